-- Silver: every bronze overtime record, typed where parseable and normalised, with the reason
-- it cannot be used (rejection_reason NULL when it can). Nothing is dropped here, so each raw
-- row ends up in exactly one of overtime_records (valid) or overtime_rejected (with a reason).
WITH typed AS (
    SELECT
        trim(record_id)                                          AS record_id,
        upper(trim(employee_id))                                 AS employee_id,
        -- strict ISO format: "2026-02-30" or "30/01/2026" must not be guessed
        CAST(try_strptime(trim(work_date), '%Y-%m-%d') AS DATE)  AS work_date,
        -- some exports use a comma as decimal separator ("2,50"): parse wide so that absurd
        -- values are reported as out of range rather than as unparseable
        TRY_CAST(replace(trim(hours), ',', '.') AS DECIMAL(18, 2)) AS hours_value,
        -- codes are typed by hand in the time-tracking tool: case and spaces vary
        upper(trim(reason_code))                                 AS reason_code,
        lower(trim(status))                                      AS status,
        nullif(upper(trim(approved_by)), '')                     AS approved_by,
        TRY_CAST(trim(submitted_at) AS TIMESTAMP)                AS submitted_at,
        source_file,
        source_row
    FROM raw_overtime_records
),

ranked AS (
    -- A record re-submitted (corrected) or exported twice keeps its record_id: the latest
    -- submission wins, ties broken by the later line of the file.
    SELECT
        *,
        row_number() OVER (
            PARTITION BY record_id
            ORDER BY submitted_at DESC NULLS LAST, source_file DESC, source_row DESC
        ) AS submission_rank
    FROM typed
)

SELECT
    r.record_id,
    r.employee_id,
    r.work_date,
    -- only values that pass the checks below are meaningful: out-of-range ones do not fit
    TRY_CAST(r.hours_value AS DECIMAL(6, 2))                     AS hours,
    r.reason_code,
    r.status,
    r.approved_by,
    r.submitted_at,
    r.source_file,
    r.source_row,
    -- first failing check wins, from the row itself to its references and then duplicates
    CASE
        WHEN r.record_id IS NULL OR NOT regexp_full_match(r.record_id, 'OT[0-9]{7}') THEN 'invalid_record_id'
        WHEN r.work_date IS NULL                                 THEN 'invalid_work_date'
        WHEN r.hours_value IS NULL                               THEN 'invalid_hours'
        WHEN r.hours_value < 0                                   THEN 'negative_hours'
        WHEN r.hours_value = 0                                   THEN 'zero_hours'
        -- more than 16 hours of overtime on one day is a typing error (e.g. a full day as 24)
        WHEN r.hours_value > 16                                  THEN 'hours_above_16'
        WHEN e.employee_id IS NULL                               THEN 'unknown_employee'
        WHEN r.work_date < e.hire_date                           THEN 'before_hire_date'
        WHEN o.reason_code IS NULL                               THEN 'unknown_reason'
        WHEN r.status IS NULL
          OR r.status NOT IN ('approved', 'pending', 'rejected') THEN 'invalid_status'
        WHEN r.submission_rank > 1                               THEN 'duplicate_record'
    END                                                          AS rejection_reason
FROM ranked AS r
LEFT JOIN employees AS e
    ON e.employee_id = r.employee_id
LEFT JOIN overtime_reasons AS o
    ON o.reason_code = r.reason_code
