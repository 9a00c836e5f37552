-- Every source record behind each complaint: the record kept and every copy merged into it (a
-- webhook retry, an SMS page fetched twice, the same complaint sent again on another channel), so
-- an analyst can go from a complaint to every place it came from.
with kept as (
    select distinct
        complaint_id,
        channel,
        source_record_id,
        source_location,
        received_date,
        'kept' as rule,
        1.0 as similarity
    from {{ ref('stg_complaints') }}
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
)

select * from kept
union all
select * from merged
