-- One row per complaint. A complaint received more than once (a web form updated after it was
-- first extracted) takes its attributes from its latest version and its receipt from its first.
-- Two steps DuckDB can spill to disk under its memory limit: an aggregate of fixed-size values per
-- complaint (first and last receipt time), then the version received last joined back by
-- (complaint_id, received_at). Not a window over every version (it sorts them with all their
-- columns: 90 days of 100k a day took 26 s and 8 GB), and not an arg_max of the version's columns
-- (a struct state per complaint, which DuckDB cannot spill: "Out of Memory" at 10M with 4 GB).
-- A complaint has one version per receipt day (the cleaned layer's ids are unique per day) and
-- its receipt day is its receipt time's, so no two versions share a receipt time; the unique test
-- on complaint_id would fail the build if they ever did.
-- Incremental: a build recomputes the complaints in int_changed_complaints only, reading the receipt
-- days that hold their versions (int_complaint_receipts); see macros/incremental_scope.sql. A new
-- CRM snapshot rebuilds it whole (customer_key), which the Dagster asset decides.
-- depends_on: {{ ref('int_changed_complaints') }}
-- depends_on: {{ ref('int_complaint_receipts') }}
{{ config(
    materialized='incremental', incremental_strategy='append', on_schema_change='sync_all_columns',
    pre_hook="{{ delete_affected_complaints() }}",
) }}
with receipts as (
    select
        complaint_id,
        min(received_at) as received_at,
        min(received_date) as received_date,
        max(received_at) as last_received_at
    from ({{ complaint_versions() }})
    group by complaint_id
),

latest_version as (
    select
        versions.complaint_id,
        receipts.received_at,
        receipts.received_date,
        versions.event_date,
        versions.channel,
        versions.category,
        versions.customer_key,
        versions.category_confidence,
        versions.is_complaint,
        versions.category_path,
        versions.model_version,
        versions.status,
        versions.event_at,
        versions.received_at as last_received_at,
        versions.resolved_at,
        versions.wait_seconds,
        versions.handle_seconds
    from ({{ complaint_versions() }}) as versions
    inner join receipts
        on receipts.complaint_id = versions.complaint_id
        and receipts.last_received_at = versions.received_at
),

customers as (
    select customer_key from {{ ref('dim_customer') }}
),

-- Source records behind each complaint, over every day (a copy may arrive days after the original).
-- In a partial build, fct_complaint_sources has just rewritten the recomputed complaints' rows: the
-- ones with this build's built_at, found without reading the older row groups.
sources as (
    select complaint_id, count(*) as source_records
    from {{ ref('fct_complaint_sources') }}
    {% if partial_build() %}
    where built_at = {{ build_started_at() }}
    {% endif %}
    group by complaint_id
)

select
    latest_version.complaint_id,
    latest_version.event_date,
    latest_version.received_date,
    latest_version.channel,
    latest_version.category,
    -- No account given, or an account the CRM does not (yet) list: the unknown member.
    coalesce(customers.customer_key, 'unknown') as customer_key,
    latest_version.category_confidence,
    latest_version.is_complaint,
    latest_version.category_path,
    latest_version.model_version,
    latest_version.status,
    latest_version.event_at,
    latest_version.received_at,
    latest_version.last_received_at,
    latest_version.resolved_at,
    (epoch(latest_version.resolved_at) - epoch(latest_version.event_at)) / 3600.0 as hours_to_resolution,
    latest_version.wait_seconds,
    latest_version.handle_seconds,
    cast(coalesce(sources.source_records, 1) as integer) as duplicate_count,
    latest_version.received_date > latest_version.event_date as is_late,
    {{ build_started_at() }} as built_at
from latest_version
left join customers
    on customers.customer_key = latest_version.customer_key
left join sources
    on sources.complaint_id = latest_version.complaint_id
