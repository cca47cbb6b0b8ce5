-- Business view for finance and sales management: sales per selling legal entity and month of
-- the order date, in the entity's currency (never converted, never summed across currencies).
-- Revenue is the net amount (after line discounts) of completed orders only; returned orders
-- are shown apart, in the month of the order, and cancelled orders only count as orders.
WITH per_order AS (
    SELECT
        entity_id,
        period_id,
        currency,
        order_id,
        customer_id,
        status,
        sum(net_amount) AS order_amount
    FROM fact_order_lines
    GROUP BY entity_id, period_id, currency, order_id, customer_id, status
)

SELECT
    entity_id,
    period_id,
    currency,
    CAST(count(*) AS INTEGER)                                                        AS order_count,
    CAST(count(*) FILTER (WHERE status = 'completed') AS INTEGER)                    AS completed_order_count,
    CAST(coalesce(sum(order_amount) FILTER (WHERE status = 'completed'), 0) AS DECIMAL(14, 2)) AS net_revenue,
    CAST(coalesce(sum(order_amount) FILTER (WHERE status = 'returned'), 0) AS DECIMAL(14, 2))  AS returned_amount,
    CAST(count(DISTINCT customer_id) FILTER (WHERE status = 'completed') AS INTEGER) AS customer_count
FROM per_order
GROUP BY entity_id, period_id, currency
ORDER BY period_id, entity_id
