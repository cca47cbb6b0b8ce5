-- Silver: HR's published overtime analysis (port hr.overtime.overtime_analysis: one row per
-- entity, department, month and reason category, approved + pending hours and amounts),
-- assigned to its cost center. LEFT JOIN on purpose: an HR department without a cost center
-- keeps its row with a NULL cost_center, which the rule every_hr_department_has_a_cost_center
-- reports, instead of its overtime silently disappearing from the accruals.
SELECT
    a.entity_id,
    a.department,
    a.period_id,
    a.reason_category,
    c.cost_center,
    a.hours,
    a.amount,
    a.currency
FROM overtime_analysis AS a
LEFT JOIN cost_centers AS c
    ON c.entity_id = a.entity_id
   AND c.department = a.department
ORDER BY a.period_id, a.entity_id, a.department, a.reason_category
