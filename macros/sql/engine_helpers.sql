{#- Functions some engines need before any model runs (called from on-run-start).
    PostgreSQL has no try_cast: these return null where a cast would raise. -#}
{% macro create_engine_helpers() -%}
    {{ return(adapter.dispatch('create_engine_helpers', 'loyalty')()) }}
{%- endmacro %}

{% macro default__create_engine_helpers() -%}
    select 1
{%- endmacro %}

{% macro postgres__create_engine_helpers() -%}
    {%- for data_type in ['date', 'timestamptz'] %}
    create or replace function public.loyalty_try_cast_{{ data_type }}(value text)
    returns {{ data_type }} language plpgsql immutable as $$
    begin
        return value::{{ data_type }};
    exception when others then
        return null;
    end
    $$;
    {%- endfor %}
{%- endmacro %}
