-- One row per drifting balance and cause that explains it (account_id, balance_type,
-- currency_key, likely_cause): the union of every cause detection model, i.e. every model
-- named int_drift_cause__<likely_cause> (drift_cause_models(), from the project graph).
-- int_drift_causes_ranked keeps the cause of lowest precedence.
--
-- dbt learns a model's parents when it parses the file, before the graph exists, so each
-- cause model is also declared below; a cause model missing here stops the build with the
-- line to add. tests_py/test_drift_cause_registry.py checks these lines, the cause models and
-- seeds/drift_causes.csv agree.
-- depends_on: {{ ref('int_drift_cause__double_posted_event') }}
-- depends_on: {{ ref('int_drift_cause__missing_correction') }}
-- depends_on: {{ ref('int_drift_cause__missing_ledger_event') }}
-- depends_on: {{ ref('int_drift_cause__rejected_movement') }}
-- depends_on: {{ ref('int_drift_cause__stale_snapshot') }}

{%- set cause_models = drift_cause_models() %}
{%- for cause_model in cause_models %}
    {%- if 'model.' ~ project_name ~ '.' ~ cause_model not in model.depends_on.nodes %}
        {{- exceptions.raise_compiler_error(
            cause_model ~ " is a drift cause model (its name says so) but " ~ model.name
            ~ " does not declare it: add the line `-- depends_on: {" ~ "{ ref('" ~ cause_model
            ~ "') }" ~ "}` to " ~ model.original_file_path
        ) }}
    {%- endif %}
{%- endfor %}

with

{% for cause_model in cause_models %}
    {{ cause_model }} as (
        select * from {{ ref(cause_model) }}
    ),
{% endfor %}

candidates as (
    {%- for cause_model in cause_models %}
        select
            account_id,
            balance_type,
            currency_key,
            likely_cause,
            evidence_movement_id,
            explanation
        from {{ cause_model }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

final as (
    select * from candidates
)

select * from final
