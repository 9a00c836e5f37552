select
    calls.event_date,
    dim_date.fiscal_year,
    dim_date.fiscal_quarter,
    dim_date.fiscal_month,
    count(*) as calls,
    count(*) filter (where calls.status = 'resolved') as resolved,
    count(*) filter (where calls.status = 'escalated') as escalated,
    count(*) filter (where calls.status = 'open') as open,
    count(*) filter (where calls.status = 'callback') as callback,
    count(*) filter (where calls.status = 'resolved') / count(*) as resolution_rate,
    median(calls.wait_seconds) as median_wait_seconds,
    quantile_cont(calls.wait_seconds, 0.9) as p90_wait_seconds,
    avg(calls.handle_seconds) as avg_handle_seconds,
    median(calls.hours_to_resolution) filter (where calls.status = 'resolved') as median_hours_to_resolution
from {{ ref('fct_complaints') }} as calls
left join {{ ref('dim_date') }} as dim_date
    on dim_date.date_key = calls.event_date
where calls.channel = 'call_center'
group by all
