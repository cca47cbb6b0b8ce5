-- Silver: overtime cost (HR's metric, by entity and month) next to net revenue (Sales, port
-- sales.orders.revenue_by_entity_month) per legal entity and month. FULL OUTER JOIN: a month
-- with revenue but no paid overtime, or the reverse, keeps its row. Both currencies are kept
-- so that the rule cost_and_revenue_in_the_same_currency can prove the ratio never divides
-- pounds by euros.
WITH cost AS (
    SELECT
        entity_id,
        year(metric_time) * 100 + month(metric_time)  AS period_id,  -- yyyymm, as Sales keys months
        currency,
        overtime_cost,
        paid_hours
    FROM overtime_cost_monthly
)
SELECT
    coalesce(c.entity_id, r.entity_id)                AS entity_id,
    coalesce(c.period_id, r.period_id)                AS period_id,
    c.currency                                        AS cost_currency,
    r.currency                                        AS revenue_currency,
    CAST(c.overtime_cost AS DECIMAL(14, 2))           AS overtime_cost,
    CAST(c.paid_hours AS DECIMAL(10, 2))              AS compensable_hours,
    r.net_revenue
FROM cost AS c
FULL OUTER JOIN revenue_by_entity_month AS r
    ON r.entity_id = c.entity_id
   AND r.period_id = c.period_id
ORDER BY period_id, entity_id
