-- One row per member account and version (account_id, version_number): the members dimension
-- as type-2 history by load time, without personal data (no email). A version is valid from
-- the load that delivered it (valid_from) until the load that delivered the next one (valid_to,
-- null = current); a member who closes the account is re-delivered with status closed.

with

member_versions as (
    select * from {{ ref('stg_loyalty__member_versions') }}
),

final as (
    select
        account_id,
        enrolled_at,
        home_store_id,
        member_status,
        cast(version_number as bigint) as version_number,
        cast(valid_from as timestamp) as valid_from,
        cast(valid_to as timestamp) as valid_to,
        is_current,
        source_file
    from member_versions
)

select * from final
