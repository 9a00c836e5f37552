-- Which receipt days hold a version of each complaint (a web form updated later is received again):
-- the index an incremental build uses to read only the days its complaints were received on.
-- depends_on: {{ ref('int_changed_complaints') }}
{{ config(
    materialized='incremental', incremental_strategy='append', on_schema_change='sync_all_columns',
    pre_hook="{{ delete_changed_days() }}",
) }}
{% set days = changed_days() if is_incremental() else none %}
select distinct complaint_id, received_date
from {{ ref('stg_complaints') }}
{% if days is not none %}
where {{ in_days('received_date', days) }}
{% endif %}
