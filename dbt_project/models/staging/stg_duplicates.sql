-- Source records the cleaned layer removed as duplicates, each pointing at the complaint kept.
select
    complaint_id,
    duplicate_of,
    channel,
    source_record_id,
    source_location,
    cast(received_date as date) as received_date,
    rule,
    cast(coalesce(similarity, 1.0) as double) as similarity
from {{ source('lake', 'complaint_duplicates') }}
