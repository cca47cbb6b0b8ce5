-- Silver: overtime reason codes with a numeric multiplier and a real boolean.
SELECT
    upper(trim(reason_code))                                         AS reason_code,
    trim(label)                                                      AS label,
    lower(trim(category))                                            AS category,
    -- the reference file is maintained in a spreadsheet: accept "1,25" as well as "1.25"
    CAST(replace(trim(rate_multiplier), ',', '.') AS DECIMAL(4, 2))  AS rate_multiplier,
    -- anything else than an explicit yes/no stays NULL and fails the not_null rule loudly
    CASE
        WHEN lower(trim(is_compensable)) IN ('true', 't', 'yes', 'y', '1') THEN true
        WHEN lower(trim(is_compensable)) IN ('false', 'f', 'no', 'n', '0') THEN false
    END                                                              AS is_compensable,
    source_row
FROM raw_overtime_reasons
