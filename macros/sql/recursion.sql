{#- A recursive CTE written as its start and its step, so each engine can run it its own way.

    recursive_steps(name, start_sql, step_sql, input_ctes, inputs_sql) returns the body of the
    CTE `name`:
      start_sql   the state before the first step; reads the input CTEs as __<cte>__;
      step_sql    the next state from the previous one, read as __<name>__ (and the input CTEs
                  as __<cte>__); one select, windows allowed;
      input_ctes  the names of the CTEs of inputs_sql the start and the step read;
      inputs_sql  the CTE definitions they come from (without `with`).
    DuckDB and PostgreSQL: `start union all step`, in a `with recursive`.
    Spark refuses window functions over a recursive reference (INVALID_RECURSIVE_REFERENCE.PLACE),
    so there the recursion is unrolled: the input CTEs are written once as tables, then each
    state from the one before it until the step yields no row, and the CTE is the union of the
    states. drop_recursive_steps(name) (a post-hook) drops those scratch tables. Their names
    (<model>_<name>_in_<cte>, <model>_<name>_state_<n>, in the model's schema) hold no double
    underscore, which marks a placeholder. A dbt unit test cannot be unrolled so (its inputs are
    CTEs of its own query; as chained CTEs, Spark's analyzer ran out of memory at 17 steps): the
    unit tests of such a model are disabled on Spark, and `make test-spark` checks the model
    through the marts it compares with DuckDB's. -#}
{% macro recursive_steps(name, start_sql, step_sql, input_ctes, inputs_sql) -%}
    {{ return(adapter.dispatch('recursive_steps', 'loyalty')(name, start_sql, step_sql, input_ctes, inputs_sql)) }}
{%- endmacro %}

{% macro _recursive_steps_sql(sql, relations) -%}
    {%- set rendered = namespace(sql=sql) %}
    {%- for placeholder, relation in relations.items() %}
        {%- set rendered.sql = rendered.sql | replace('__' ~ placeholder ~ '__', relation) %}
    {%- endfor %}
    {{- return(rendered.sql) }}
{%- endmacro %}

{% macro default__recursive_steps(name, start_sql, step_sql, input_ctes, inputs_sql) -%}
    {%- set relations = {name: name} %}
    {%- for cte in input_ctes %}{% do relations.update({cte: cte}) %}{% endfor %}
    {{ loyalty._recursive_steps_sql(start_sql, relations) }}
    union all
    {{ loyalty._recursive_steps_sql(step_sql, relations) }}
{%- endmacro %}

{#- the name every scratch table of a model's unrolled recursion starts with (in the model's schema) -#}
{% macro _recursive_steps_prefix(name) -%}
    {{- return(this.identifier ~ '_' ~ name) }}
{%- endmacro %}

{#- Spark: each state is written as a table (a cached view would carry the whole lineage of
    the states before it into every plan, and planning grows with each step) -#}
{% macro spark__recursive_steps(name, start_sql, step_sql, input_ctes, inputs_sql) -%}
    {%- set prefix = this.schema ~ '.' ~ loyalty._recursive_steps_prefix(name) %}
    {%- if not execute %}
        {#- parsing: no query runs; the states exist once the model executes -#}
        select * from {{ prefix }}_state_0
    {%- elif model.resource_type == 'unit_test' %}
        {{ exceptions.raise_compiler_error(
            this ~ ': a unit test cannot unroll the recursion ' ~ name ~ ' on Spark (its inputs are CTEs'
            ~ ' of the test query); enable the test on the other engines only') }}
    {%- else %}
        {%- do loyalty.drop_recursive_steps(name) %}
        {%- set relations = {} %}
        {%- for cte in input_ctes %}
            {%- do run_query('create table ' ~ prefix ~ '_in_' ~ cte ~ ' as with ' ~ inputs_sql ~ ' select * from ' ~ cte) %}
            {%- do relations.update({cte: prefix ~ '_in_' ~ cte}) %}
        {%- endfor %}
        {%- do run_query('create table ' ~ prefix ~ '_state_0 as ' ~ loyalty._recursive_steps_sql(start_sql, relations)) %}
        {%- set state = namespace(number=0, rows=1) %}
        {%- for _ in range(100000) if state.rows > 0 %}
            {%- do relations.update({name: prefix ~ '_state_' ~ state.number}) %}
            {%- set state.number = state.number + 1 %}
            {%- set next_state = prefix ~ '_state_' ~ state.number %}
            {%- do run_query('create table ' ~ next_state ~ ' as ' ~ loyalty._recursive_steps_sql(step_sql, relations)) %}
            {%- set state.rows = run_query('select count(*) from ' ~ next_state).columns[0].values()[0] %}
        {%- endfor %}
        {%- for number in range(state.number) %}
        {{ 'union all' if not loop.first }}
        select * from {{ prefix }}_state_{{ number }}
        {%- endfor %}
    {%- endif %}
{%- endmacro %}

{% macro drop_recursive_steps(name) -%}
    {{ return(adapter.dispatch('drop_recursive_steps', 'loyalty')(name)) }}
{%- endmacro %}

{% macro default__drop_recursive_steps(name) -%}
{%- endmacro %}

{% macro spark__drop_recursive_steps(name) -%}
    {%- if execute %}
        {%- set tables = run_query(
            "show tables in " ~ this.schema ~ " like '" ~ loyalty._recursive_steps_prefix(name) ~ "_*'") %}
        {%- for row in tables.rows if not row['isTemporary'] %}
            {%- do run_query('drop table if exists ' ~ this.schema ~ '.' ~ row['tableName']) %}
        {%- endfor %}
    {%- endif %}
{%- endmacro %}
