-- One row per drifting balance (account_id, balance_type, currency_key) that at least one
-- cause detection model explains: the cause with the lowest precedence in
-- seeds/drift_causes.csv (CONTRACT §4: when more than one fits, the first in the list wins).

with

causes as (
    select * from {{ ref('drift_causes') }}
),

{% for model in drift_cause_models() %}
    {{ model }} as (
        select * from {{ ref(model) }}
    ),
{% endfor %}

candidates as (
    {%- for model in drift_cause_models() %}
        select
            account_id,
            balance_type,
            currency_key,
            likely_cause,
            evidence_movement_id,
            explanation
        from {{ model }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

ranked as (
    select
        candidates.*,
        causes.precedence,
        row_number() over (
            partition by candidates.account_id, candidates.balance_type, candidates.currency_key
            order by causes.precedence
        ) as cause_rank
    from candidates
    inner join causes
        on candidates.likely_cause = causes.likely_cause
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
