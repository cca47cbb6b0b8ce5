-- Silver: the B2B customer master, trimmed, with codes in upper case (ISO country, entity) and
-- the segment in lower case, so that "SMB " and "smb" are the same segment.
SELECT
    upper(trim(customer_id))                       AS customer_id,
    regexp_replace(trim(customer_name), '\s+', ' ', 'g') AS customer_name,
    lower(trim(segment))                           AS segment,
    upper(trim(country))                           AS country,
    upper(trim(entity_id))                         AS entity_id,
    source_row
FROM raw_customers
