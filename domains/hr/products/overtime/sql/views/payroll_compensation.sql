-- Business view for payroll: what to pay per employee and month. Only approved records of
-- compensable reasons: hours are split by pay-rate band as payslips show them.
WITH payable AS (
    SELECT f.*, e.full_name
    FROM fact_overtime AS f
    JOIN dim_overtime_reason AS o
        ON o.reason_code = f.reason_code
    JOIN dim_employee AS e
        ON e.employee_id = f.employee_id
    WHERE f.status = 'approved'
      AND o.is_compensable
)

SELECT
    employee_id,
    full_name,
    entity_id,
    period_id,
    currency,
    -- bands are ranges, so that a new multiplier (e.g. 1.75) lands in a band instead of nowhere
    CAST(coalesce(sum(hours) FILTER (WHERE rate_multiplier < 1.25), 0) AS DECIMAL(8, 2))                       AS hours_x100,
    CAST(coalesce(sum(hours) FILTER (WHERE rate_multiplier >= 1.25 AND rate_multiplier < 1.50), 0) AS DECIMAL(8, 2)) AS hours_x125,
    CAST(coalesce(sum(hours) FILTER (WHERE rate_multiplier >= 1.50 AND rate_multiplier < 2.00), 0) AS DECIMAL(8, 2)) AS hours_x150,
    CAST(coalesce(sum(hours) FILTER (WHERE rate_multiplier >= 2.00), 0) AS DECIMAL(8, 2))                      AS hours_x200,
    CAST(sum(hours) AS DECIMAL(8, 2))                                                                          AS compensable_hours,
    CAST(sum(amount) AS DECIMAL(14, 2))                                                                        AS amount_to_pay
FROM payable
GROUP BY employee_id, full_name, entity_id, period_id, currency
ORDER BY period_id, employee_id
