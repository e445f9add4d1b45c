-- Schema drift (docs/landing.md#file-level-errors): a landing file with columns the contract
-- does not name loads (the extra columns are ignored and named in raw.load_log.extra_columns),
-- and warns here so that someone asks upstream what the new field is. Warns; failing rows
-- (findings.<this test>): the files and their extra columns.
{{ config(
    tags=['landing'], severity='warn', store_failures=true, schema='findings',
    meta={'runbook': 'schema-drift'}
) }}

select
    landing_source,
    source_file,
    file_sequence,
    loaded_at,
    extra_columns
from {{ ref('stg_loader__load_log') }}
where extra_columns is not null
