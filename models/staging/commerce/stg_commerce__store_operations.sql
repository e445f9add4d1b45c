-- One row per store, business date and metric.

with

base as (
    select * from {{ ref('base_commerce__store_operations') }}
    where row_status = 'staged'
),

final as (
    select
        store_id,
        business_date,
        metric,
        value as metric_value,
        _source_file as source_file
    from base
)

select * from final
