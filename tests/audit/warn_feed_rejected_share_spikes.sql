-- Quarantine spike (docs/runbook.md#quarantine-spike): on a recent complete day a daily landing
-- feed had far more of its rows rejected than its trailing baseline
-- (models/audit/feed_daily_volumes.sql, dbt var feed_anomaly). Warns; each failing row (stored in
-- findings.<this test>) raises its own alert; the rows themselves are in
-- audit.rejected_source_rows with their reasons.
{{ config(
    tags=['landing', 'anomaly'], severity='warn', store_failures=true, schema='findings',
    meta={'runbook': 'quarantine-spike'}
) }}

select
    landing_source,
    business_date,
    rejected_share_status,
    rows_delivered,
    rows_rejected,
    rejected_share,
    rejected_share_limit,
    baseline_rejected_share,
    baseline_days
from {{ ref('feed_daily_volumes') }}
where
    in_alert_window
    and rejected_share_status = 'spike'
