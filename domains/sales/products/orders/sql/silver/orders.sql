-- Silver: the usable order headers, one row per order_id.
SELECT
    order_id,
    order_date,
    customer_id,
    entity_id,
    currency,
    status,
    channel,
    source_file,
    source_row
FROM orders_validated
WHERE rejection_reason IS NULL
