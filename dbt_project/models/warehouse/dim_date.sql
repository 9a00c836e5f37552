select
    calendar_date as date_key,
    calendar_year,
    calendar_month,
    month_name,
    day_of_week,
    day_name,
    is_weekend,
    iso_week,
    fiscal_year,
    fiscal_quarter,
    fiscal_month,
    fiscal_year_label
from {{ ref('stg_fiscal_calendar') }}
