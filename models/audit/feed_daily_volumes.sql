-- One row per landing feed and business day (landing_source, business_date), from the feed's
-- first day through the warehouse's as-of day: the rows the feed delivered for that day and
-- the share of them rejected, each against the same feed's trailing baseline of complete days
-- (docs/runbook.md#feed-volume-anomaly, #quarantine-spike). A day without a row is a day with 0
-- rows (a feed that went quiet). Rows are dated by the feed's business date
-- (feed_volume_sources(), which also says which rows count); a row whose date does not parse
-- cannot be dated and is not counted.
-- Delivered means every row of every loaded file: staged, rejected and exact duplicates (a
-- replayed day is a flood); a re-delivered identical file is not loaded, so not counted.
--
-- Band (dbt var feed_anomaly): median of the baseline days' rows +- the largest of
-- spread_multiplier x 1.4826 x MAD (a robust standard deviation), min_band_share x median and
-- min_band_rows. The as-of day is incomplete (its feeds are still arriving) and is not judged;
-- the tests judge the complete days of the last window_days.

{%- set settings = var('feed_anomaly') %}

with

{% for feed in feed_volume_sources() %}
    {{ feed.source }} as (
        select * from {{ ref(feed.model) }}
    ),
{% endfor %}

warehouse_as_of as (
    select * from {{ ref('int_warehouse_as_of') }}
),

dated_rows as (
    {%- for feed in feed_volume_sources() %}
        select
            '{{ feed.source }}' as landing_source,
            cast({{ feed.dated_by }} as date) as business_date,
            row_status
        from {{ feed.source }}
        where
            {{ feed.dated_by }} is not null
            {%- if feed.counted is defined %}
                and {{ feed.counted }}
            {%- endif %}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

rows_by_day as (
    select
        landing_source,
        business_date,
        count(*) as rows_delivered,
        cast(sum(case when row_status = 'rejected' then 1 else 0 end) as bigint) as rows_rejected
    from dated_rows
    group by landing_source, business_date
),

feed_spans as (
    select
        rows_by_day.landing_source,
        min(rows_by_day.business_date) as first_date,
        cast(warehouse_as_of.as_of as date) as as_of_date
    from rows_by_day
    cross join warehouse_as_of
    group by rows_by_day.landing_source, cast(warehouse_as_of.as_of as date)
),

feed_days as (
    {{ date_series('feed_spans', 'feed_spans.first_date', 'feed_spans.as_of_date', 'day', 'business_date') }}
),

daily as (
    select
        feed_days.landing_source,
        feed_days.business_date,
        feed_days.business_date < feed_days.as_of_date as is_complete_day,
        feed_days.business_date >= cast({{ dbt.dateadd('day', -settings.window_days, 'feed_days.as_of_date') }} as date)
            as in_alert_window,
        coalesce(rows_by_day.rows_delivered, 0) as rows_delivered,
        coalesce(rows_by_day.rows_rejected, 0) as rows_rejected,
        case
            when rows_by_day.rows_delivered > 0
                then rows_by_day.rows_rejected * 1.0 / rows_by_day.rows_delivered
        end as rejected_share
    from feed_days
    left join rows_by_day
        on
            feed_days.landing_source = rows_by_day.landing_source
            and feed_days.business_date = rows_by_day.business_date
),

-- each day with the complete days of its trailing baseline
baseline_days as (
    select
        this_day.landing_source,
        this_day.business_date,
        earlier_day.rows_delivered,
        earlier_day.rejected_share
    from daily as this_day
    inner join daily as earlier_day
        on
            this_day.landing_source = earlier_day.landing_source
            and this_day.business_date > earlier_day.business_date
            and cast({{ dbt.dateadd('day', -settings.baseline_days, 'this_day.business_date') }} as date)
            <= earlier_day.business_date
),

baseline_medians as (
    select
        landing_source,
        business_date,
        count(*) as baseline_days,
        percentile_cont(0.5) within group (order by rows_delivered) as median_rows,
        percentile_cont(0.5) within group (order by rejected_share) as median_rejected_share
    from baseline_days
    group by landing_source, business_date
),

baseline_spreads as (
    select
        baseline_days.landing_source,
        baseline_days.business_date,
        percentile_cont(0.5) within group (
            order by abs(baseline_days.rows_delivered - baseline_medians.median_rows)
        ) as mad_rows,
        percentile_cont(0.5) within group (
            order by abs(baseline_days.rejected_share - baseline_medians.median_rejected_share)
        ) as mad_rejected_share
    from baseline_days
    inner join baseline_medians
        on
            baseline_days.landing_source = baseline_medians.landing_source
            and baseline_days.business_date = baseline_medians.business_date
    group by baseline_days.landing_source, baseline_days.business_date
),

bands as (
    select
        baseline_medians.landing_source,
        baseline_medians.business_date,
        baseline_medians.baseline_days,
        baseline_medians.median_rows,
        baseline_medians.median_rejected_share,
        greatest(
            {{ settings.spread_multiplier }} * 1.4826 * baseline_spreads.mad_rows,
            {{ settings.min_band_share }} * baseline_medians.median_rows,
            {{ settings.min_band_rows }}
        ) as band_width_rows,
        greatest(
            coalesce(baseline_medians.median_rejected_share, 0)
            + {{ settings.spread_multiplier }} * 1.4826 * coalesce(baseline_spreads.mad_rejected_share, 0),
            {{ settings.rejected_share_floor }}
        ) as rejected_share_limit
    from baseline_medians
    inner join baseline_spreads
        on
            baseline_medians.landing_source = baseline_spreads.landing_source
            and baseline_medians.business_date = baseline_spreads.business_date
),

judged as (
    select
        daily.landing_source,
        daily.business_date,
        daily.is_complete_day,
        daily.in_alert_window and daily.is_complete_day as in_alert_window,
        daily.rows_delivered,
        daily.rows_rejected,
        daily.rejected_share,
        coalesce(bands.baseline_days, 0) as baseline_days,
        bands.median_rows as baseline_median_rows,
        case
            when bands.baseline_days is not null
                then cast(greatest(ceiling(bands.median_rows - bands.band_width_rows), 0) as bigint)
        end as expected_rows_low,
        case
            when bands.baseline_days is not null
                then cast(floor(bands.median_rows + bands.band_width_rows) as bigint)
        end as expected_rows_high,
        bands.median_rejected_share as baseline_rejected_share,
        bands.rejected_share_limit
    from daily
    left join bands
        on
            daily.landing_source = bands.landing_source
            and daily.business_date = bands.business_date
),

final as (
    select
        landing_source,
        business_date,
        is_complete_day,
        in_alert_window,
        rows_delivered,
        rows_rejected,
        rejected_share,
        baseline_days,
        baseline_median_rows,
        expected_rows_low,
        expected_rows_high,
        baseline_rejected_share,
        rejected_share_limit,
        case
            when not is_complete_day then 'incomplete_day'
            when baseline_days < {{ settings.min_baseline_days }} then 'no_baseline'
            when rows_delivered < expected_rows_low then 'quiet'
            when rows_delivered > expected_rows_high then 'flood'
            else 'ok'
        end as volume_status,
        case
            when not is_complete_day then 'incomplete_day'
            when baseline_days < {{ settings.min_baseline_days }} then 'no_baseline'
            when
                rows_rejected >= {{ settings.rejected_min_rows }}
                and rejected_share > rejected_share_limit
                then 'spike'
            else 'ok'
        end as rejected_share_status
    from judged
)

select * from final
