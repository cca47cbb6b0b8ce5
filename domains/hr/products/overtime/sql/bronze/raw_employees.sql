-- Bronze: the employee master extract exactly as delivered. Every source column stays text so that
-- nothing is lost or rejected at ingestion, typing and cleaning happen in silver.
-- Three lineage columns make every later row traceable back to a line of the file.
SELECT
    employee_id,
    first_name,
    last_name,
    email,
    entity_id,
    department,
    team,
    manager_id,
    job_title,
    hire_date,
    hourly_rate,
    weekly_contract_hours,
    parse_filename(filename)     AS source_file,  -- file name of the extract
    -- 1-based data row in the file (header excluded), the CSV scan keeps file order
    row_number() OVER ()         AS source_row,
    current_timestamp::TIMESTAMP AS ingested_at
FROM employees_file
