-- Silver: the controlling mapping of (legal entity, HR department) to cost center, trimmed and
-- with codes in upper case. Departments keep HR's spelling (they are the join key with HR).
SELECT
    upper(trim(entity_id))        AS entity_id,
    trim(department)              AS department,
    upper(trim(cost_center))      AS cost_center,
    trim(cost_center_name)        AS cost_center_name,
    trim(gl_account)              AS gl_account,
    upper(trim(profit_center))    AS profit_center,
    source_row
FROM raw_cost_centers
