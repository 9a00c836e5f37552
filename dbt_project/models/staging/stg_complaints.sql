-- One row per complaint per day it was received, exactly as the cleaned layer wrote it. A web form
-- updated after it was first received is extracted again, so it can appear in more than one
-- partition; fct_complaints keeps one row per complaint.
select
    complaint_id,
    channel,
    source_record_id,
    source_location,
    customer_key,
    contact_token,
    author_token,
    cast(event_at as timestamptz) as event_at,
    cast(received_at as timestamptz) as received_at,
    cast(event_date as date) as event_date,
    cast(received_date as date) as received_date,
    text_masked,
    lower(trim(status)) as status,
    cast(resolved_at as timestamptz) as resolved_at,
    cast(wait_seconds as integer) as wait_seconds,
    cast(handle_seconds as integer) as handle_seconds,
    cast(duplicate_count as integer) as duplicate_count,
    category,
    cast(category_confidence as double) as category_confidence,
    category_path,
    cast(is_complaint as boolean) as is_complaint,
    model_version
from {{ source('lake', 'complaints_categorised') }}
