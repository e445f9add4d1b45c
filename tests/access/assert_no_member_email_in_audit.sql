-- Member emails are personal data (docs/landing.md#personal-data), and the published warehouse
-- holds audit beside the marts: no audit table may carry a delivered email. A rejected members
-- row keeps its email only masked in raw_row ('***@example.net'). This scans every column of
-- every model under models/audit for a value that still looks like an email address once the
-- masks are taken out, and fails on any audit column named like one.
-- Each audit model is listed below so that dbt runs this test after all of them; one missing
-- from the list stops the test with an error naming it.
-- depends_on: {{ ref('rejected_source_rows') }}
-- depends_on: {{ ref('source_row_accounting') }}
-- depends_on: {{ ref('feed_daily_volumes') }}
{{ config(tags=['integrity', 'access'], meta={'dagster': {'ref': {'name': 'rejected_source_rows'}}}) }}

{%- set scans = [] %}
{%- if execute %}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name and node.fqn[1] == 'audit' %}
        {%- if node.unique_id not in model.depends_on.nodes %}
            {{ exceptions.raise_compiler_error(
                "tests/access/assert_no_member_email_in_audit.sql: add '-- depends_on: {{ ref(\\'"
                ~ node.name ~ "\\') }}' for the audit model " ~ node.name) }}
        {%- endif %}
        {%- set relation = api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias) %}
        {%- for column in node.columns.values() %}
            {%- do scans.append((node.name, column.name, relation)) %}
        {%- endfor %}
    {%- endfor %}
{%- endif %}

with

findings as (
    {%- for audit_model, column_name, relation in scans %}
    select
        '{{ audit_model }}' as audit_model,
        '{{ column_name }}' as column_name,
        count(*) as email_like_values
    from {{ relation }}
    where replace(cast({{ adapter.quote(column_name) }} as {{ dbt.type_string() }}), '***@', '') like '%_@_%._%'
    {% if not loop.last %}union all{% endif %}
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as audit_model,
        cast(null as {{ dbt.type_string() }}) as column_name,
        0 as email_like_values
    {%- endfor %}
)

select * from findings
where email_like_values > 0 or lower(column_name) like '%email%'
