select
    received_date,
    channel,
    rule,
    count(*) as records
from {{ ref('stg_quarantine') }}
group by all
