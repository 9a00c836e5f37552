-- The near-duplicate review queue for people: each pair side by side, most similar first.
-- Decide with `complaints review accept|reject <pair_id>`; the day is re-run and the pair leaves
-- the queue.
select
    pair_id,
    similarity,
    received_date,
    complaint_id,
    channel,
    event_at,
    text_masked,
    candidate_of,
    candidate_channel,
    candidate_event_at,
    candidate_text_masked
from {{ ref('stg_review_queue') }}
order by received_date, similarity desc
