-- One row per landing file the loader accepted (outcome loaded) or recognised as a copy of
-- one it had loaded (outcome duplicate_file).

with

load_log as (
    select * from {{ source('loader', 'load_log') }}
),

final as (
    select
        file_sequence,
        source as landing_source,
        source_file,
        file_size_bytes,
        content_hash,
        rows_delivered,
        load_id,
        loaded_at,
        outcome,
        duplicate_of,
        extra_columns
    from load_log
)

select * from final
