-- One row per rejected landing row (docs/landing.md#quarantine): which file and row, its key as delivered,
-- why it was rejected (reason: see the rejection_reason doc block in models/staging/_staging__docs.md) and the
-- row's delivered text. Exact duplicates are not here: they are counted, not rejected.

with

{% for model in delivery_base_models() %}
    {{ model }} as (
        select * from {{ ref(model) }}
    ),
{% endfor %}

rejected as (
    {%- for model in delivery_base_models() %}
        select
            landing_source as source,
            _source_file as source_file,
            _source_row_number as source_row_number,
            row_key,
            reason,
            reason_detail,
            raw_row,
            _load_id as load_id,
            cast(_loaded_at as timestamp) as loaded_at
        from {{ model }}
        where row_status = 'rejected'
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

final as (
    select * from rejected
)

select * from final
