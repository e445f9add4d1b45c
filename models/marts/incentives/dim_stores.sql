-- One row per store and version (store_id, version_number): the stores dimension as type-2
-- history by load time. A version is valid from the load that delivered it (valid_from) until
-- the load that delivered the next one (valid_to, null = current); the current version is what
-- the incentive rules use (a store that closes is re-delivered with closed_on set).

with

store_versions as (
    select * from {{ ref('stg_commerce__store_versions') }}
),

final as (
    select
        store_id,
        store_name,
        region,
        opened_on,
        closed_on,
        cast(version_number as bigint) as version_number,
        cast(valid_from as timestamp) as valid_from,
        cast(valid_to as timestamp) as valid_to,
        is_current,
        source_file
    from store_versions
)

select * from final
