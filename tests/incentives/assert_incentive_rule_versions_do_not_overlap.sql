-- Invariant: at most one version of each incentive rule applies to a month. Two rows of
-- seeds/incentive_rules.csv with the same rule_id and overlapping [effective_from,
-- effective_to) would judge a store twice by the same rule and double its count of passed or
-- failed rules. Failing rows: the overlapping pairs.
{{ config(tags=['integrity', 'incentives']) }}

with

rules as (
    select * from {{ ref('incentive_rules') }}
)

select
    earlier.rule_id,
    earlier.effective_from,
    earlier.effective_to,
    later.effective_from as overlapping_effective_from,
    later.effective_to as overlapping_effective_to
from rules as earlier
inner join rules as later
    on
        earlier.rule_id = later.rule_id
        and earlier.effective_from < later.effective_from
        and (earlier.effective_to is null or earlier.effective_to > later.effective_from)
