-- Gold dimension: one row per legal entity (employer, country, payroll currency).
SELECT
    entity_id,
    entity_name,
    country,
    currency
FROM entities
