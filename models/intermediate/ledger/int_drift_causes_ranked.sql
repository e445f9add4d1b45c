-- One row per drifting balance (account_id, balance_type, currency_key) that at least one
-- cause detection model explains: the cause with the lowest precedence in
-- seeds/drift_causes.csv (docs/marts.md#likely-causes: when more than one fits, the first wins).

with

causes as (
    select * from {{ ref('drift_causes') }}
),

detected as (
    select * from {{ ref('int_drift_causes_detected') }}
),

ranked as (
    select
        detected.*,
        causes.precedence,
        row_number() over (
            partition by detected.account_id, detected.balance_type, detected.currency_key
            order by causes.precedence
        ) as cause_rank
    from detected
    inner join causes
        on detected.likely_cause = causes.likely_cause
),

final as (
    select
        account_id,
        balance_type,
        currency_key,
        likely_cause,
        precedence,
        evidence_movement_id,
        explanation
    from ranked
    where cause_rank = 1
)

select * from final
