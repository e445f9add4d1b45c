-- Member emails are personal data (docs/landing.md#personal-data): they stop at staging. This scans every column
-- of every mart (the models under models/marts, read from dbt's graph) for a value that looks
-- like an email address, and fails on any mart column named like one.
-- Each mart is listed below so that dbt runs this test after all of them; a mart missing from
-- the list stops the test with an error naming it.
-- depends_on: {{ ref('fct_points_liability_monthly') }}
-- depends_on: {{ ref('fct_wallet_liability_monthly') }}
-- depends_on: {{ ref('fct_store_incentive_eligibility') }}
-- depends_on: {{ ref('fct_store_incentive_evaluations') }}
-- depends_on: {{ ref('fct_store_incentive_published') }}
-- depends_on: {{ ref('fct_store_incentive_restatements') }}
-- depends_on: {{ ref('fct_store_incentive_rule_evaluations') }}
-- depends_on: {{ ref('fct_store_incentive_rule_results') }}
-- depends_on: {{ ref('dim_member_tiers') }}
-- depends_on: {{ ref('dim_members') }}
-- depends_on: {{ ref('dim_stores') }}
-- depends_on: {{ ref('fct_points_lots') }}
-- depends_on: {{ ref('rpt_tier_movements_monthly') }}
-- depends_on: {{ ref('fct_account_ledger_timeline') }}
-- depends_on: {{ ref('fct_balance_reconciliation') }}
-- depends_on: {{ ref('fct_expiry_reconciliation') }}
-- depends_on: {{ ref('fct_order_accrual_reconciliation') }}
-- depends_on: {{ ref('rpt_reconciliation_summary') }}
-- depends_on: {{ ref('rpt_warehouse_summary') }}
-- depends_on: {{ ref('rpt_warehouse_as_of') }}
-- depends_on: {{ ref('dim_calendar_days') }}
{{ config(tags=['integrity', 'access'], meta={'dagster': {'ref': {'name': 'dim_member_tiers'}}}) }}

{%- set scans = [] %}
{%- if execute %}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name and node.fqn[1] == 'marts' %}
        {%- if node.unique_id not in model.depends_on.nodes %}
            {{ exceptions.raise_compiler_error(
                "tests/access/assert_no_member_email_in_marts.sql: add '-- depends_on: {{ ref(\\'"
                ~ node.name ~ "\\') }}' for the mart " ~ node.name) }}
        {%- endif %}
        {%- set relation = api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias) %}
        {%- for column in node.columns.values() %}
            {%- do scans.append((node.name, column.name, relation)) %}
        {%- endfor %}
    {%- endfor %}
{%- endif %}

with

findings as (
    {%- for mart, column_name, relation in scans %}
    select
        '{{ mart }}' as mart,
        '{{ column_name }}' as column_name,
        count(*) as email_like_values
    from {{ relation }}
    where cast({{ adapter.quote(column_name) }} as {{ dbt.type_string() }}) like '%_@_%._%'
    {% if not loop.last %}union all{% endif %}
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as mart,
        cast(null as {{ dbt.type_string() }}) as column_name,
        0 as email_like_values
    {%- endfor %}
)

select * from findings
where email_like_values > 0 or lower(column_name) like '%email%'
