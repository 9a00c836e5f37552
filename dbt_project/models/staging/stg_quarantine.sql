select
    channel,
    source_record_id,
    source_location,
    cast(received_at as timestamptz) as received_at,
    cast(received_date as date) as received_date,
    rule,
    reason,
    raw_masked
from {{ source('lake', 'complaints_quarantine') }}
