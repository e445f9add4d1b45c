-- One row per version of a store target (store_id, period_month, metric, version_number):
-- every staged delivery of the targets plan, each valid from the load that delivered it until
-- the next version's load; the latest is current (docs/landing.md#same-key-different-payload).

{{ config(materialized='table') }}

with

base as (
    select * from {{ ref('base_commerce__store_targets') }}
    where row_status = 'staged'
),

versioned as (
    select
        store_id,
        period_month,
        metric,
        target as target_value,
        row_number() over (
            partition by store_id, period_month, metric order by _file_sequence, _source_row_number
        ) as version_number,
        _loaded_at as valid_from,
        lead(_loaded_at) over (
            partition by store_id, period_month, metric order by _file_sequence, _source_row_number
        ) as valid_to,
        _source_file as source_file,
        _source_row_number as source_row_number
    from base
),

final as (
    select
        store_id,
        period_month,
        metric,
        target_value,
        version_number,
        valid_from,
        valid_to,
        max(version_number) over (partition by store_id, period_month, metric) = version_number as is_current,
        source_file,
        source_row_number
    from versioned
)

select * from final
