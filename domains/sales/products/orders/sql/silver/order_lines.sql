-- Silver: the usable order lines, one row per (order_id, line_number), each of a valid order.
SELECT
    order_id,
    line_number,
    product_id,
    quantity,
    unit_price,
    discount_pct,
    source_file,
    source_row
FROM order_lines_validated
WHERE rejection_reason IS NULL
