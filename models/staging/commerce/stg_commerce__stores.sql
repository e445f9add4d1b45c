-- One row per store (store_id).

with

base as (
    select * from {{ ref('base_commerce__stores') }}
    where row_status = 'staged'
),

final as (
    select
        store_id,
        store_name,
        region,
        opened_on,
        closed_on,
        _source_file as source_file
    from base
)

select * from final
