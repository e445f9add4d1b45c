-- One row per store, month and metric: the current target, the latest version delivered.

with

versions as (
    select * from {{ ref('stg_commerce__store_target_versions') }}
),

final as (
    select
        store_id,
        period_month,
        metric,
        target_value,
        version_number as versions_count,
        valid_from as current_since,
        source_file
    from versions
    where is_current
)

select * from final
