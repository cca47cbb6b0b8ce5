-- Silver: the rejected order lines, for the sales data team to correct at the source.
-- Raw values are shown exactly as received (joined back to bronze by file and row) so that a
-- rejection can be explained without opening the extract.
SELECT
    raw.order_id          AS source_order_id,
    raw.line_number       AS source_line_number,
    v.source_file,
    v.source_row,
    v.rejection_reason,
    raw.product_id        AS raw_product_id,
    raw.quantity          AS raw_quantity,
    raw.unit_price        AS raw_unit_price,
    raw.discount_pct      AS raw_discount_pct,
    raw.ingested_at
FROM order_lines_validated AS v
JOIN raw_order_lines AS raw
    ON raw.source_file = v.source_file
   AND raw.source_row = v.source_row
WHERE v.rejection_reason IS NOT NULL
