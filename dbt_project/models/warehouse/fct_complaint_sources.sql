-- Every source record behind each complaint: the record kept and every copy merged into it (a
-- webhook retry, an SMS page fetched twice, the same complaint sent again on another channel), so
-- an analyst can go from a complaint to every place it came from.
-- A record received again in a later version (a web form updated) is one source record: its
-- first receipt is given.
-- Incremental: a build recomputes the rows of the complaints in int_changed_complaints only, reading
-- the receipt days that hold their versions (int_complaint_receipts); see macros/incremental_scope.sql.
-- depends_on: {{ ref('int_changed_complaints') }}
-- depends_on: {{ ref('int_complaint_receipts') }}
{{ config(
    materialized='incremental', incremental_strategy='append', on_schema_change='sync_all_columns',
    pre_hook="{{ delete_affected_complaints() }}",
) }}
with versions as (
    {{ complaint_versions() }}
),

kept as (
    select
        complaint_id,
        channel,
        source_record_id,
        arg_min(source_location, received_at) as source_location,
        min(received_date) as received_date,
        'kept' as rule,
        1.0 as similarity
    from versions
    group by complaint_id, channel, source_record_id
),

merged as (
    select
        duplicate_of as complaint_id,
        channel,
        source_record_id,
        source_location,
        received_date,
        rule,
        similarity
    from {{ ref('stg_duplicates') }}
    {% if partial_build() %}
    where duplicate_of in (select complaint_id from {{ ref('int_changed_complaints') }})
    {% endif %}
)

select *, {{ build_started_at() }} as built_at from kept
union all
select *, {{ build_started_at() }} as built_at from merged
