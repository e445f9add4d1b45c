-- One row per delivered landing file: rows delivered (the loader's count) against what
-- staging made of them. Delivered = staged + rejected + exact duplicates is tested.

with

load_log as (
    select * from {{ ref('stg_loader__load_log') }}
),

{% for model in delivery_base_models() %}
    {{ model }} as (
        select * from {{ ref(model) }}
    ),
{% endfor %}

delivered_rows as (
    {%- for model in delivery_base_models() %}
        select
            _file_sequence as file_sequence,
            row_status
        from {{ model }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

rows_by_status as (
    select
        file_sequence,
        sum(case when row_status = 'staged' then 1 else 0 end) as rows_staged,
        sum(case when row_status = 'rejected' then 1 else 0 end) as rows_rejected,
        sum(case when row_status = 'duplicate' then 1 else 0 end) as rows_duplicate
    from delivered_rows
    group by file_sequence
),

final as (
    select
        load_log.landing_source,
        load_log.source_file,
        load_log.file_sequence,
        load_log.outcome,
        load_log.duplicate_of,
        load_log.rows_delivered,
        coalesce(rows_by_status.rows_staged, 0) as rows_staged,
        coalesce(rows_by_status.rows_rejected, 0) as rows_rejected,
        -- A duplicate file adds no raw rows: every row it delivered is an exact duplicate.
        case
            when load_log.outcome = 'duplicate_file' then load_log.rows_delivered
            else coalesce(rows_by_status.rows_duplicate, 0)
        end as rows_exact_duplicate
    from load_log
    left join rows_by_status
        on load_log.file_sequence = rows_by_status.file_sequence
)

select * from final
