-- Gold dimension: one row per employee, current attributes (no history is kept by the source).
SELECT
    employee_id,
    first_name || ' ' || last_name AS full_name,
    email,
    entity_id,
    department,
    team,
    manager_id,
    job_title,
    hire_date,
    hourly_rate
FROM employees
ORDER BY employee_id
