-- One row per version of a member account (account_id, version_number): every staged
-- delivery of the members dimension, each valid from the load that delivered it until the
-- next version's load; the latest is current (docs/landing.md#same-key-different-payload).

{{ config(materialized='table') }}

with

base as (
    select * from {{ ref('base_loyalty__members') }}
    where row_status = 'staged'
),

versioned as (
    select
        account_id,
        email,
        enrolled_at,
        home_store_id,
        status as member_status,
        row_number() over (
            partition by account_id order by _file_sequence, _source_row_number
        ) as version_number,
        _loaded_at as valid_from,
        lead(_loaded_at) over (
            partition by account_id order by _file_sequence, _source_row_number
        ) as valid_to,
        _source_file as source_file,
        _source_row_number as source_row_number
    from base
),

final as (
    select
        account_id,
        email,
        enrolled_at,
        home_store_id,
        member_status,
        version_number,
        valid_from,
        valid_to,
        max(version_number) over (partition by account_id) = version_number as is_current,
        source_file,
        source_row_number
    from versioned
)

select * from final
