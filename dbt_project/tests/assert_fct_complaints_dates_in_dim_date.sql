{{ config(meta={"dagster": {"ref": {"name": "fct_complaints"}}}) }}
-- Every complaint's event and receipt dates are in the fiscal calendar, so no complaint drops out of
-- a mart that reports by fiscal period. Rows returned are the complaints whose date is missing.
-- An incremental build checks the complaints it recomputed, like the generic tests.
{% set scope = incremental_test_scope(ref('fct_complaints')) %}
select
    complaints.complaint_id,
    complaints.event_date,
    complaints.received_date
from {{ ref('fct_complaints') }} as complaints
left join {{ ref('dim_date') }} as event_day
    on event_day.date_key = complaints.event_date
left join {{ ref('dim_date') }} as receipt_day
    on receipt_day.date_key = complaints.received_date
where (event_day.date_key is null or receipt_day.date_key is null)
    {% if scope %}and {{ scope }}{% endif %}
