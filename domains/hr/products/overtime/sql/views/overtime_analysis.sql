-- Business view for HR business partners: overtime per entity, department, month and reason
-- category. Hours and amounts are those declared and not refused (approved + pending).
WITH declared AS (
    SELECT
        f.entity_id,
        e.department,
        f.period_id,
        o.category AS reason_category,
        f.employee_id,
        f.hours,
        f.amount,
        f.currency
    FROM fact_overtime AS f
    JOIN dim_employee AS e
        ON e.employee_id = f.employee_id
    JOIN dim_overtime_reason AS o
        ON o.reason_code = f.reason_code
    WHERE f.status IN ('approved', 'pending')
),

grouped AS (
    SELECT
        entity_id,
        department,
        period_id,
        reason_category,
        currency,
        sum(hours)                  AS hours,
        sum(amount)                 AS amount,
        count(DISTINCT employee_id) AS employee_count
    FROM declared
    GROUP BY entity_id, department, period_id, reason_category, currency
)

SELECT
    entity_id,
    department,
    period_id,
    reason_category,
    CAST(hours AS DECIMAL(10, 2))                                         AS hours,
    CAST(amount AS DECIMAL(14, 2))                                        AS amount,
    currency,
    CAST(employee_count AS INTEGER)                                       AS employee_count,
    -- share of the entity's declared hours that month (sums to 1 per entity and month)
    CAST(hours / sum(hours) OVER (PARTITION BY entity_id, period_id) AS DOUBLE) AS share_of_entity_hours
FROM grouped
ORDER BY period_id, entity_id, department, reason_category
