-- Silver: the rejected order headers, for the sales data team to correct at the source.
-- Raw values are shown exactly as received (joined back to bronze by file and row) so that a
-- rejection can be explained without opening the extract. Their lines are rejected too
-- (order_lines_rejected, rejection_reason order_rejected).
SELECT
    raw.order_id          AS source_order_id,
    v.source_file,
    v.source_row,
    v.rejection_reason,
    raw.order_date        AS raw_order_date,
    raw.customer_id       AS raw_customer_id,
    raw.entity_id         AS raw_entity_id,
    raw.currency          AS raw_currency,
    raw.status            AS raw_status,
    raw.channel           AS raw_channel,
    raw.ingested_at
FROM orders_validated AS v
JOIN raw_orders AS raw
    ON raw.source_file = v.source_file
   AND raw.source_row = v.source_row
WHERE v.rejection_reason IS NOT NULL
