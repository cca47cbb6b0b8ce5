-- Silver: overtime cost (HR) next to net revenue (Sales, port
-- sales.orders.revenue_by_entity_month) per legal entity and month. FULL OUTER JOIN: a month
-- with revenue but no paid overtime, or the reverse, keeps its row. Both currencies are kept
-- so that the rule cost_and_revenue_in_the_same_currency can prove the ratio never divides
-- pounds by euros.
SELECT
    coalesce(c.entity_id, r.entity_id)  AS entity_id,
    coalesce(c.period_id, r.period_id)  AS period_id,
    c.currency                          AS cost_currency,
    r.currency                          AS revenue_currency,
    c.overtime_cost,
    c.compensable_hours,
    r.net_revenue
FROM overtime_cost_monthly AS c
FULL OUTER JOIN revenue_by_entity_month AS r
    ON r.entity_id = c.entity_id
   AND r.period_id = c.period_id
ORDER BY period_id, entity_id
