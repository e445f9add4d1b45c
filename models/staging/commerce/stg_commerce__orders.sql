-- One row per order (order_id): its latest state, the change-feed row with the latest
-- updated_at (ties cannot happen: (order_id, updated_at) is the delivery key).

{{ config(materialized='table') }}

with

base as (
    select * from {{ ref('base_commerce__orders') }}
    where row_status = 'staged'
),

versions_numbered as (
    select
        base.*,
        row_number() over (partition by base.order_id order by base.updated_at desc) as version_recency,
        count(*) over (partition by base.order_id) as versions_count,
        min(base.updated_at) over (partition by base.order_id) as first_seen_at
    from base
),

final as (
    select
        order_id,
        account_id,
        store_id,
        channel,
        status as order_status,
        currency,
        net_amount,
        ordered_at,
        updated_at,
        first_seen_at,
        versions_count,
        account_id is null as is_guest_order,
        _source_file as source_file
    from versions_numbered
    where version_recency = 1
)

select * from final
