-- Gold dimension: one row per B2B customer, current attributes (the CRM keeps no history).
SELECT
    customer_id,
    customer_name,
    segment,
    country,
    entity_id
FROM customers
ORDER BY customer_id
