select
    cast("date" as date) as calendar_date,
    cast("year" as integer) as calendar_year,
    cast("month" as integer) as calendar_month,
    cast(day_of_week as integer) as day_of_week,
    day_name,
    month_name,
    cast(is_weekend as boolean) as is_weekend,
    cast(iso_week as integer) as iso_week,
    cast(fiscal_year as integer) as fiscal_year,
    cast(fiscal_quarter as integer) as fiscal_quarter,
    cast(fiscal_month as integer) as fiscal_month,
    fiscal_year_label
from {{ source('lake', 'fiscal_calendar') }}
