-- Each customer as of the latest CRM snapshot that lists them. A customer missing from newer
-- snapshots (an account closed) keeps their last known attributes.
select
    customer_key,
    name_token,
    email_token,
    phone_token,
    handle_token,
    plan,
    region,
    cast(signup_date as date) as signup_date,
    cast(snapshot_date as date) as snapshot_date
from {{ source('lake', 'customers') }}
qualify row_number() over (partition by customer_key order by snapshot_date desc) = 1
