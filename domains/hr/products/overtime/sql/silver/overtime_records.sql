-- Silver: the usable overtime records, one row per record_id (latest submission).
SELECT
    record_id,
    employee_id,
    work_date,
    hours,
    reason_code,
    status,
    approved_by,
    submitted_at,
    source_file,
    source_row
FROM overtime_records_validated
WHERE rejection_reason IS NULL
