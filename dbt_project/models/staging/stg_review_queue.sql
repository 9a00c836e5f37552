-- Near-duplicate pairs awaiting a person's decision, as the cleaned layer last wrote them.
select
    pair_id,
    complaint_id,
    candidate_of,
    cast(similarity as double) as similarity,
    channel,
    candidate_channel,
    text_masked,
    candidate_text_masked,
    cast(event_at as timestamptz) as event_at,
    cast(candidate_event_at as timestamptz) as candidate_event_at,
    cast(received_date as date) as received_date
from {{ source('lake', 'duplicate_review_queue') }}
