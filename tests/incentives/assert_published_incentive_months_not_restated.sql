-- Finding (docs/program.md#restatements): a published store incentive month is never silently rewritten, so a
-- current evaluation that differs from the published one is recorded beside it and must reach
-- a person: pay on the published result, or reopen the month and publish it again. Failing
-- rows: fct_store_incentive_restatements (what was published, what it is now, why).
{{ config(
    tags=['finding', 'incentives'], severity='error', store_failures=true, schema='findings',
    meta={'runbook': 'restated-incentive-month'}
) }}

select
    store_id,
    period_month,
    restatement_kind,
    published_eligible,
    current_eligible,
    published_at,
    detected_at,
    why
from {{ ref('fct_store_incentive_restatements') }}
