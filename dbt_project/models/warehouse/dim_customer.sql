-- Customers from the CRM plus one 'unknown' member, which every complaint not tied to a CRM
-- account points to.
select
    customer_key,
    name_token,
    email_token,
    phone_token,
    handle_token,
    plan,
    region,
    signup_date,
    snapshot_date,
    -- The latest snapshot's date as one value, not a window over every customer, which holds them
    -- all (two snapshots of 5M customers: the model in 10.5-10.8 s, 11.8-12.1 s with max() over ()).
    snapshot_date = (select max(snapshot_date) from {{ ref('stg_customers') }}) as is_in_latest_snapshot
from {{ ref('stg_customers') }}

union all

select
    'unknown' as customer_key,
    null as name_token,
    null as email_token,
    null as phone_token,
    null as handle_token,
    'unknown' as plan,
    'unknown' as region,
    null as signup_date,
    null as snapshot_date,
    false as is_in_latest_snapshot
