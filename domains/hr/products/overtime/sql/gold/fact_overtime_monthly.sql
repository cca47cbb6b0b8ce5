-- Gold fact: one row per employee and month with overtime records, whatever their status.
-- Hours are split by approval status: compensable hours and amount only count approved
-- records, i.e. what payroll pays for the month.
SELECT
    f.employee_id,
    f.entity_id,
    f.period_id,
    CAST(coalesce(sum(f.hours) FILTER (WHERE f.status = 'approved'), 0) AS DECIMAL(8, 2)) AS approved_hours,
    CAST(coalesce(sum(f.hours) FILTER (WHERE f.status = 'pending'), 0) AS DECIMAL(8, 2))  AS pending_hours,
    CAST(coalesce(sum(f.hours) FILTER (WHERE f.status = 'approved' AND o.is_compensable), 0)
         AS DECIMAL(8, 2))                                                                AS compensable_hours,
    CAST(coalesce(sum(f.amount) FILTER (WHERE f.status = 'approved'), 0) AS DECIMAL(14, 2)) AS amount,
    CAST(count(*) AS INTEGER)                                                             AS record_count
FROM fact_overtime AS f
JOIN dim_overtime_reason AS o
    ON o.reason_code = f.reason_code
GROUP BY f.employee_id, f.entity_id, f.period_id
ORDER BY f.period_id, f.employee_id
