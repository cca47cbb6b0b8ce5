-- Gold fact: one row per valid order line, valued at its net amount (after the line discount)
-- in the currency of the selling entity, whatever the order status (cancelled and returned
-- orders stay visible; revenue_by_entity_month only counts completed ones as revenue).
-- LEFT JOINs on purpose: a missing header or dimension row shows up as a NULL that the
-- contract (not_null, relationships) reports, instead of a line silently disappearing.
SELECT
    l.order_id,
    CAST(l.line_number AS INTEGER)                                      AS line_number,
    o.order_date,
    CAST(year(o.order_date) * 100 + month(o.order_date) AS INTEGER)     AS period_id,
    c.customer_id,
    o.entity_id,
    p.product_id,
    CAST(l.quantity AS INTEGER)                                         AS quantity,
    CAST(l.unit_price AS DECIMAL(10, 2))                                AS unit_price,
    CAST(l.discount_pct AS DECIMAL(5, 2))                               AS discount_pct,
    -- the contract's own formula (rule net_amount_is_discounted_quantity_times_price)
    CAST(round(l.quantity * l.unit_price * (100 - l.discount_pct) * 0.01, 2) AS DECIMAL(12, 2)) AS net_amount,
    o.currency,
    o.status,
    current_timestamp::TIMESTAMP                                        AS loaded_at
FROM order_lines AS l
LEFT JOIN orders AS o
    ON o.order_id = l.order_id
LEFT JOIN dim_customer AS c
    ON c.customer_id = o.customer_id
LEFT JOIN dim_product AS p
    ON p.product_id = l.product_id
ORDER BY l.order_id, line_number
