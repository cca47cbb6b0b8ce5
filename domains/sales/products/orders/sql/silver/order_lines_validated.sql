-- Silver: every bronze order line, typed where parseable and normalised, with the reason it
-- cannot be used (rejection_reason NULL when it can). Nothing is dropped here, so each raw row
-- ends up in exactly one of order_lines (valid) or order_lines_rejected (with a reason).
WITH typed AS (
    SELECT
        upper(trim(order_id))                                           AS order_id,
        TRY_CAST(trim(line_number) AS INTEGER)                          AS line_number,
        -- product codes are sometimes typed by hand: case and spaces vary
        upper(trim(product_id))                                         AS product_id,
        -- some exports write quantities as decimals ("3.0") or with a decimal comma: parse wide,
        -- then only whole numbers are accepted below
        TRY_CAST(replace(trim(quantity), ',', '.') AS DECIMAL(18, 3))     AS quantity_value,
        TRY_CAST(replace(trim(unit_price), ',', '.') AS DECIMAL(18, 2))   AS unit_price_value,
        TRY_CAST(replace(trim(discount_pct), ',', '.') AS DECIMAL(18, 2)) AS discount_value,
        source_file,
        source_row
    FROM raw_order_lines
),

ranked AS (
    -- A line exported twice keeps its (order_id, line_number): the last row of the extract wins.
    SELECT
        *,
        row_number() OVER (
            PARTITION BY order_id, line_number
            ORDER BY source_file DESC, source_row DESC
        ) AS export_rank
    FROM typed
),

order_state AS (
    -- one row per order_id delivered in the orders extract; valid when one of its rows is
    SELECT
        order_id,
        bool_or(rejection_reason IS NULL) AS is_valid
    FROM orders_validated
    WHERE order_id IS NOT NULL
    GROUP BY order_id
)

SELECT
    l.order_id,
    l.line_number,
    l.product_id,
    -- only values that pass the checks below are meaningful: out-of-range ones do not fit
    TRY_CAST(l.quantity_value AS INTEGER)                           AS quantity,
    TRY_CAST(l.unit_price_value AS DECIMAL(10, 2))                  AS unit_price,
    TRY_CAST(l.discount_value AS DECIMAL(5, 2))                     AS discount_pct,
    l.source_file,
    l.source_row,
    -- first failing check wins, from the row itself to its references and then duplicates
    CASE
        WHEN l.order_id IS NULL OR NOT regexp_full_match(l.order_id, 'SO[0-9]{7}') THEN 'invalid_order_id'
        WHEN l.line_number IS NULL OR l.line_number < 1                 THEN 'invalid_line_number'
        WHEN l.quantity_value IS NULL OR l.quantity_value <> trunc(l.quantity_value)
          OR l.quantity_value > 1000000                                 THEN 'invalid_quantity'
        WHEN l.quantity_value < 0                                       THEN 'negative_quantity'
        WHEN l.quantity_value = 0                                       THEN 'zero_quantity'
        WHEN l.unit_price_value IS NULL OR l.unit_price_value < 0
          OR l.unit_price_value >= 100000000                            THEN 'invalid_unit_price'
        WHEN l.discount_value IS NULL
          OR l.discount_value < 0 OR l.discount_value > 100             THEN 'invalid_discount'
        WHEN s.order_id IS NULL                                         THEN 'unknown_order'
        WHEN NOT s.is_valid                                             THEN 'order_rejected'
        WHEN p.product_id IS NULL                                       THEN 'unknown_product'
        WHEN l.export_rank > 1                                          THEN 'duplicate_line'
    END                                                                 AS rejection_reason
FROM ranked AS l
LEFT JOIN order_state AS s
    ON s.order_id = l.order_id
LEFT JOIN products AS p
    ON p.product_id = l.product_id
