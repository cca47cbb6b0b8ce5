-- Silver: the overtime payroll pays, per legal entity and month, from HR's published payroll
-- view (port hr.overtime.payroll_compensation: one row per employee and month, approved paid
-- overtime only). Aggregated at once: nothing per employee leaves this step.
SELECT
    entity_id,
    period_id,
    currency,
    CAST(sum(amount_to_pay) AS DECIMAL(14, 2))      AS overtime_cost,
    CAST(sum(compensable_hours) AS DECIMAL(10, 2))  AS compensable_hours,
    CAST(count(DISTINCT employee_id) AS INTEGER)    AS employees_paid
FROM payroll_compensation
GROUP BY entity_id, period_id, currency
ORDER BY period_id, entity_id
