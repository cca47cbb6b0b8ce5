-- Silver: the rejected overtime records, for the HR data team to correct at the source.
-- Raw values are shown exactly as received (joined back to bronze by file and row) so that a
-- rejection can be explained without opening the extract.
SELECT
    raw.record_id         AS source_record_id,
    v.source_file,
    v.source_row,
    v.rejection_reason,
    raw.employee_id       AS raw_employee_id,
    raw.work_date         AS raw_work_date,
    raw.hours             AS raw_hours,
    raw.reason_code       AS raw_reason_code,
    raw.status            AS raw_status,
    raw.approved_by       AS raw_approved_by,
    raw.submitted_at      AS raw_submitted_at,
    raw.ingested_at
FROM overtime_records_validated AS v
JOIN raw_overtime_records AS raw
    ON raw.source_file = v.source_file
   AND raw.source_row = v.source_row
WHERE v.rejection_reason IS NOT NULL
