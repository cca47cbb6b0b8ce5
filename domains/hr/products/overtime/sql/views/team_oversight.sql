-- Business view for managers: per team and month, who does overtime and how much.
-- Hours are those declared and not refused (approved + pending): a manager needs to see the
-- load, including what still waits for their approval.
WITH per_employee AS (
    SELECT
        e.entity_id,
        e.department,
        e.team,
        e.manager_id,
        m.period_id,
        m.employee_id,
        m.approved_hours + m.pending_hours AS declared_hours,
        m.pending_hours
    FROM fact_overtime_monthly AS m
    JOIN dim_employee AS e
        ON e.employee_id = m.employee_id
    -- employees whose only records were refused did not do overtime
    WHERE m.approved_hours + m.pending_hours > 0
)

SELECT
    entity_id,
    department,
    team,
    manager_id,
    period_id,
    CAST(count(*) AS INTEGER)                                            AS employees_with_overtime,
    CAST(sum(declared_hours) AS DECIMAL(10, 2))                          AS total_hours,
    CAST(round(sum(declared_hours) / count(*), 2) AS DECIMAL(8, 2))      AS avg_hours_per_employee,
    -- 20 hours a month is where HR asks the manager to look at workload
    CAST(count(*) FILTER (WHERE declared_hours > 20) AS INTEGER)         AS employees_over_20h,
    CAST(sum(pending_hours) AS DECIMAL(10, 2))                           AS pending_hours
FROM per_employee
GROUP BY entity_id, department, team, manager_id, period_id
ORDER BY period_id, entity_id, department, team
