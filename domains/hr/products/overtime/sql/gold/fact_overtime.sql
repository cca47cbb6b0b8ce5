-- Gold fact: one row per valid overtime record, valued at the employee's hourly rate and the
-- reason's multiplier, whatever its approval status (payroll only pays approved ones).
-- LEFT JOINs on purpose: a missing dimension row shows up as a NULL that the contract
-- (not_null, relationships) reports, instead of a record silently disappearing.
SELECT
    -- stable surrogate key: the numeric part of the source record_id (OT0001234 -> 1234)
    CAST(substr(r.record_id, 3) AS BIGINT)                          AS overtime_id,
    r.employee_id,
    e.entity_id,
    p.period_id,
    r.work_date,
    r.reason_code,
    r.status,
    CAST(r.hours AS DECIMAL(6, 2))                                  AS hours,
    e.hourly_rate,
    o.rate_multiplier,
    -- time off in lieu (not compensable) is never paid
    CAST(
        CASE WHEN o.is_compensable THEN round(r.hours * e.hourly_rate * o.rate_multiplier, 2) ELSE 0 END
        AS DECIMAL(12, 2)
    )                                                               AS amount,
    n.currency,
    r.record_id                                                     AS source_record_id,
    current_timestamp::TIMESTAMP                                    AS loaded_at
FROM overtime_records AS r
LEFT JOIN dim_employee AS e
    ON e.employee_id = r.employee_id
LEFT JOIN dim_overtime_reason AS o
    ON o.reason_code = r.reason_code
LEFT JOIN dim_entity AS n
    ON n.entity_id = e.entity_id
LEFT JOIN dim_period AS p
    ON p.period_id = year(r.work_date) * 100 + month(r.work_date)
ORDER BY overtime_id
