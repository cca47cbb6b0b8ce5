-- Business view for the CFO office and HR leadership: what overtime costs (paid by payroll)
-- relative to what the entity sells (net revenue), per legal entity and month.
SELECT
    entity_id,
    period_id,
    coalesce(cost_currency, revenue_currency)                   AS currency,
    -- no approved paid overtime that month: it cost nothing
    CAST(coalesce(overtime_cost, 0) AS DECIMAL(14, 2))          AS overtime_cost,
    net_revenue,
    -- null-safe: no ratio without a positive net revenue (no sales, or returns above sales)
    CASE
        WHEN net_revenue > 0 THEN CAST(coalesce(overtime_cost, 0) AS DOUBLE) / CAST(net_revenue AS DOUBLE)
    END                                                         AS overtime_cost_ratio,
    current_timestamp::TIMESTAMP                                AS loaded_at
FROM cost_and_revenue
ORDER BY period_id, entity_id
