-- The near-duplicate review queue for people: each pair side by side, by receipt day, most similar first.
-- Decide with `complaints review accept|reject <pair_id>`; the day is re-run and the pair leaves
-- the queue.
-- A view over the lake's queue, not a table: a table copied every pending pair (both texts) on
-- every build, 1.4 s of a 15-minute build with 90 days of pairs at 100k complaints a day. It names
-- stg_review_queue without the database, which is the warehouse file's name here and the analysts'
-- copy's there.
{{ config(materialized='view') }}
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
from {{ ref('stg_review_queue').include(database=False) }}
order by received_date, similarity desc
