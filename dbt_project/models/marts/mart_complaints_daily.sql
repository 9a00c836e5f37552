select
    complaints.event_date,
    complaints.channel,
    complaints.category,
    dim_date.fiscal_year,
    dim_date.fiscal_quarter,
    dim_date.fiscal_month,
    dim_date.fiscal_year_label,
    dim_channel.channel_name,
    dim_category.category_name,
    -- Replies, marketing, spam and chatter (is_complaint = false) are kept in fct_complaints but
    -- never counted as complaints.
    count(*) filter (where complaints.is_complaint) as complaints,
    count(*) filter (where not complaints.is_complaint) as not_complaints,
    avg(complaints.category_confidence) as avg_confidence,
    count(*) filter (where complaints.is_late and complaints.is_complaint) as late_complaints
from {{ ref('fct_complaints') }} as complaints
left join {{ ref('dim_date') }} as dim_date
    on dim_date.date_key = complaints.event_date
left join {{ ref('dim_channel') }} as dim_channel
    on dim_channel.channel = complaints.channel
left join {{ ref('dim_category') }} as dim_category
    on dim_category.category = complaints.category
group by all
