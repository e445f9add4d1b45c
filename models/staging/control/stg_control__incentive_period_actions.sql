-- One row per publication action on a store incentive month (period_month, acted_at, action):
-- who published or reopened which month when. The raw table is created by the loader; until it
-- exists (a warehouse built before it was introduced) this model is empty, so no month is
-- published and nothing else changes.

with

actions as (
    {{ select_source_or_empty('control', 'incentive_period_actions', [
        ['period_month', 'date'],
        ['action', dbt.type_string()],
        ['acted_at', 'timestamp'],
        ['acted_by', dbt.type_string()],
        ['note', dbt.type_string()],
    ]) }} -- noqa: RF04
),

final as (
    select
        cast(period_month as date) as period_month,
        lower(trim(action)) as action, -- noqa: RF04
        cast(acted_at as timestamp) as acted_at,
        acted_by,
        note
    from actions
)

select * from final
