-- Invariant (docs/landing.md#accounting-identity): for every landing file, rows delivered = rows staged + rows
-- rejected + exact duplicates skipped. A row that breaks it was lost (or invented) between
-- the landing folder and staging: nothing may be silently dropped.
{{ config(tags=['integrity']) }}

select
    landing_source,
    source_file,
    rows_delivered,
    rows_staged,
    rows_rejected,
    rows_exact_duplicate
from {{ ref('source_row_accounting') }}
where rows_delivered <> rows_staged + rows_rejected + rows_exact_duplicate
