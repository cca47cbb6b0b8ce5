-- Business view for controllers: the month-end overtime accrual of each cost center against
-- its budget, with the calendar year-to-date position and a budget status to sort the review.
SELECT
    f.period_id,
    d.entity_id,
    d.profit_center,
    f.cost_center,
    d.cost_center_name,
    d.department,
    d.gl_account,
    f.currency,
    f.accrued_hours,
    f.accrued_amount,
    f.budget_amount,
    f.variance_amount,
    -- variance relative to the budget; NULL without a (non-zero) budget
    CAST(f.variance_amount / nullif(f.budget_amount, 0) AS DOUBLE)      AS variance_pct,
    CASE
        WHEN f.budget_amount IS NULL THEN 'no_budget'
        WHEN f.variance_amount > 0 THEN 'over_budget'
        ELSE 'within_budget'
    END                                                                 AS budget_status,
    -- calendar year to date (January up to the month); a month without budget adds nothing
    CAST(sum(f.accrued_amount) OVER ytd AS DECIMAL(16, 2))              AS ytd_accrued_amount,
    CAST(coalesce(sum(f.budget_amount) OVER ytd, 0) AS DECIMAL(16, 2))  AS ytd_budget_amount
FROM fact_overtime_accruals AS f
JOIN dim_cost_center AS d
    ON d.cost_center = f.cost_center
WINDOW ytd AS (
    PARTITION BY f.cost_center, f.period_id // 100
    ORDER BY f.period_id
    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
)
ORDER BY f.period_id, f.cost_center
