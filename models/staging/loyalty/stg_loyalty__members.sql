-- One row per member account: the staged (valid, first-delivered) member rows.

with

base as (
    select * from {{ ref('base_loyalty__members') }}
    where row_status = 'staged'
),

final as (
    select
        account_id,
        email,
        enrolled_at,
        home_store_id,
        status as member_status,
        _source_file as source_file
    from base
)

select * from final
