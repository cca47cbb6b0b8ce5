-- Silver: every bronze order header, typed where parseable and normalised, with the reason it
-- cannot be used (rejection_reason NULL when it can). Nothing is dropped here, so each raw row
-- ends up in exactly one of orders (valid) or orders_rejected (with a reason).
WITH typed AS (
    SELECT
        upper(trim(order_id))                                      AS order_id,
        -- strict ISO format: "2026-02-30" or "30/01/2026" must not be guessed
        CAST(try_strptime(trim(order_date), '%Y-%m-%d') AS DATE)   AS order_date,
        upper(trim(customer_id))                                   AS customer_id,
        upper(trim(entity_id))                                     AS entity_id,
        upper(trim(currency))                                      AS currency,
        -- statuses are sometimes typed by hand in the order-management tool: case and spaces vary
        lower(trim(status))                                        AS status,
        nullif(lower(trim(channel)), '')                           AS channel,
        source_file,
        source_row
    FROM raw_orders
),

ranked AS (
    -- An order exported twice keeps its order_id: the last row of the extract wins.
    SELECT
        *,
        row_number() OVER (
            PARTITION BY order_id
            ORDER BY source_file DESC, source_row DESC
        ) AS export_rank
    FROM typed
)

SELECT
    o.order_id,
    o.order_date,
    o.customer_id,
    o.entity_id,
    o.currency,
    o.status,
    o.channel,
    o.source_file,
    o.source_row,
    -- first failing check wins, from the row itself to its references and then duplicates
    CASE
        WHEN o.order_id IS NULL OR NOT regexp_full_match(o.order_id, 'SO[0-9]{7}') THEN 'invalid_order_id'
        WHEN o.order_date IS NULL                                  THEN 'invalid_order_date'
        WHEN c.customer_id IS NULL                                 THEN 'unknown_customer'
        -- an order is booked by the legal entity that serves the customer
        WHEN o.entity_id IS NULL OR o.entity_id <> c.entity_id     THEN 'entity_mismatch'
        WHEN o.currency IS NULL OR o.currency NOT IN ('EUR', 'GBP') THEN 'invalid_currency'
        WHEN o.status IS NULL
          OR o.status NOT IN ('completed', 'cancelled', 'returned') THEN 'invalid_status'
        WHEN o.export_rank > 1                                     THEN 'duplicate_order'
    END                                                            AS rejection_reason
FROM ranked AS o
LEFT JOIN customers AS c
    ON c.customer_id = o.customer_id
