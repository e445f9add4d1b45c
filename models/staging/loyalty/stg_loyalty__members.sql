-- One row per member account (account_id): its current state, the latest version delivered.

with

versions as (
    select * from {{ ref('stg_loyalty__member_versions') }}
),

final as (
    select
        account_id,
        email,
        enrolled_at,
        home_store_id,
        member_status,
        version_number as versions_count,
        valid_from as current_since,
        source_file
    from versions
    where is_current
)

select * from final
