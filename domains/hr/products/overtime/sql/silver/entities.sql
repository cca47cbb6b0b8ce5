-- Silver: legal entities, trimmed and with codes in upper case (ISO country and currency).
SELECT
    upper(trim(entity_id))   AS entity_id,
    trim(entity_name)        AS entity_name,
    upper(trim(country))     AS country,
    upper(trim(currency))    AS currency,
    source_row
FROM raw_entities
