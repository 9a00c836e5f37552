-- One row per complaint. A complaint received more than once (a web form updated after it was
-- first extracted) takes its attributes from its latest version and its receipt from its first.
-- One hash aggregate over every version (arg_max by receipt), not a window over the whole history:
-- a window sorts every version with all its columns (90 days of 100k a day: 26 s and 8 GB), the
-- aggregate keeps one small row per complaint.
-- Incremental: a build recomputes the complaints in int_changed_complaints only, reading the receipt
-- days that hold their versions (int_complaint_receipts); see macros/incremental_scope.sql. A new
-- CRM snapshot rebuilds it whole (customer_key), which the Dagster asset decides.
-- depends_on: {{ ref('int_changed_complaints') }}
-- depends_on: {{ ref('int_complaint_receipts') }}
{{ config(
    materialized='incremental', incremental_strategy='append', on_schema_change='sync_all_columns',
    pre_hook="{{ delete_affected_complaints() }}",
) }}
with versions as (
    {{ complaint_versions() }}
),

per_complaint as (
    select
        complaint_id,
        min(received_at) as received_at,
        min(received_date) as received_date,
        arg_max(
            {
                'event_date': event_date,
                'channel': channel,
                'category': category,
                'customer_key': customer_key,
                'category_confidence': category_confidence,
                'is_complaint': is_complaint,
                'category_path': category_path,
                'model_version': model_version,
                'status': status,
                'event_at': event_at,
                'last_received_at': received_at,
                'resolved_at': resolved_at,
                'wait_seconds': wait_seconds,
                'handle_seconds': handle_seconds
            },
            -- the latest version: by receipt time, then receipt day, then source location
            {'received_at': received_at, 'received_date': received_date, 'source_location': source_location}
        ) as latest
    from versions
    group by complaint_id
),

latest_version as (
    select complaint_id, received_at, received_date, unnest(latest)
    from per_complaint
),

customers as (
    select customer_key from {{ ref('dim_customer') }}
),

-- Source records behind each complaint, over every day (a copy may arrive days after the original).
sources as (
    select complaint_id, count(*) as source_records
    from {{ ref('fct_complaint_sources') }}
    {% if partial_build() %}
    where complaint_id in (select complaint_id from {{ ref('int_changed_complaints') }})
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
    latest_version.received_date > latest_version.event_date as is_late
from latest_version
left join customers
    on customers.customer_key = latest_version.customer_key
left join sources
    on sources.complaint_id = latest_version.complaint_id
