-- Bronze: the overtime records extract exactly as delivered. Every source column stays text so that
-- nothing is lost or rejected at ingestion, typing and cleaning happen in silver.
-- Three lineage columns make every later row traceable back to a line of the file.
SELECT
    record_id,
    employee_id,
    work_date,
    hours,
    reason_code,
    status,
    approved_by,
    submitted_at,
    parse_filename(filename)     AS source_file,  -- file name of the extract
    -- 1-based data row in the file (header excluded), the CSV scan keeps file order
    row_number() OVER ()         AS source_row,
    current_timestamp::TIMESTAMP AS ingested_at
FROM overtime_records_file
