-- One row per store (store_id): its current state, the latest version delivered.

with

versions as (
    select * from {{ ref('stg_commerce__store_versions') }}
),

final as (
    select
        store_id,
        store_name,
        region,
        opened_on,
        closed_on,
        version_number as versions_count,
        valid_from as current_since,
        source_file
    from versions
    where is_current
)

select * from final
