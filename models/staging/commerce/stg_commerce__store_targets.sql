-- One row per store, month and metric.

with

base as (
    select * from {{ ref('base_commerce__store_targets') }}
    where row_status = 'staged'
),

final as (
    select
        store_id,
        period_month,
        metric,
        target as target_value,
        _source_file as source_file
    from base
)

select * from final
