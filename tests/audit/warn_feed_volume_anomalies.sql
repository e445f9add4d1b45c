-- Feed volume anomaly (docs/runbook.md#feed-volume-anomaly): a daily landing feed delivered far
-- fewer (quiet) or far more (flood) rows on a recent complete day than its trailing baseline
-- (models/audit/feed_daily_volumes.sql, dbt var feed_anomaly). Warns; each failing row (stored in
-- findings.<this test>) raises its own alert: "<source>: <rows> rows on <day>, expected <low>-<high>".
{{ config(
    tags=['landing', 'anomaly'], severity='warn', store_failures=true, schema='findings',
    meta={'runbook': 'feed-volume-anomaly'}
) }}

select
    landing_source,
    business_date,
    volume_status,
    rows_delivered,
    expected_rows_low,
    expected_rows_high,
    baseline_median_rows,
    baseline_days
from {{ ref('feed_daily_volumes') }}
where
    in_alert_window
    and volume_status in ('quiet', 'flood')
