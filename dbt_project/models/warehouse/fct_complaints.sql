-- One row per complaint. A complaint received more than once (a web form updated after it was
-- first extracted) takes its attributes from its latest version and its receipt from its first.
with versions as (
    select * from {{ ref('stg_complaints') }}
),

first_receipt as (
    select
        complaint_id,
        min(received_at) as received_at,
        min(received_date) as received_date
    from versions
    group by complaint_id
),

latest_version as (
    select *
    from versions
    qualify row_number() over (
        partition by complaint_id
        order by received_at desc, received_date desc, source_location desc
    ) = 1
),

customers as (
    select customer_key from {{ ref('dim_customer') }}
),

-- Source records behind each complaint, over every day (a copy may arrive days after the original).
sources as (
    select complaint_id, count(*) as source_records
    from {{ ref('fct_complaint_sources') }}
    group by complaint_id
)

select
    latest_version.complaint_id,
    latest_version.event_date,
    first_receipt.received_date,
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
    first_receipt.received_at,
    latest_version.received_at as last_received_at,
    latest_version.resolved_at,
    (epoch(latest_version.resolved_at) - epoch(latest_version.event_at)) / 3600.0 as hours_to_resolution,
    latest_version.wait_seconds,
    latest_version.handle_seconds,
    cast(coalesce(sources.source_records, 1) as integer) as duplicate_count,
    first_receipt.received_date > latest_version.event_date as is_late
from latest_version
inner join first_receipt
    on first_receipt.complaint_id = latest_version.complaint_id
left join customers
    on customers.customer_key = latest_version.customer_key
left join sources
    on sources.complaint_id = latest_version.complaint_id
