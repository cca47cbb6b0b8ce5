-- Gold fact: one row per cost center and month, the overtime to accrue (HR's approved + pending
-- amounts, summed over the reason categories) next to the month's budget.
-- FULL OUTER JOIN: a budgeted month without overtime still shows (accrued 0), and overtime
-- without a budget still shows (budget NULL). LEFT JOIN to dim_cost_center on purpose: a
-- budget line of an unknown cost center keeps a NULL entity_id that the contract reports.
WITH accrued AS (
    SELECT
        cost_center,
        period_id,
        currency,
        sum(hours)  AS accrued_hours,
        sum(amount) AS accrued_amount
    FROM overtime_by_cost_center
    GROUP BY cost_center, period_id, currency
)

SELECT
    coalesce(a.cost_center, b.cost_center)                          AS cost_center,
    d.entity_id,
    coalesce(a.period_id, b.period_id)                              AS period_id,
    -- HR's payroll currency and the budget's must agree; when they do not, the currency is
    -- NULL and the not_null rule blocks publication rather than subtracting pounds from euros.
    CASE
        WHEN a.currency IS NULL OR b.currency IS NULL OR a.currency = b.currency
            THEN coalesce(a.currency, b.currency)
    END                                                             AS currency,
    CAST(coalesce(a.accrued_hours, 0) AS DECIMAL(10, 2))            AS accrued_hours,
    CAST(coalesce(a.accrued_amount, 0) AS DECIMAL(14, 2))           AS accrued_amount,
    b.budget_amount,
    -- positive = over budget (costs above plan), negative = under budget
    CAST(coalesce(a.accrued_amount, 0) - b.budget_amount AS DECIMAL(14, 2)) AS variance_amount,
    current_timestamp::TIMESTAMP                                    AS loaded_at
FROM accrued AS a
FULL OUTER JOIN budget AS b
    ON b.cost_center = a.cost_center
   AND b.period_id = a.period_id
LEFT JOIN dim_cost_center AS d
    ON d.cost_center = coalesce(a.cost_center, b.cost_center)
ORDER BY period_id, cost_center
