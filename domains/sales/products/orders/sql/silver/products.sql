-- Silver: the product catalogue with a typed list price. The catalogue is maintained in a
-- spreadsheet: accept "54,90" as well as "54.90".
SELECT
    upper(trim(product_id))                                        AS product_id,
    regexp_replace(trim(product_name), '\s+', ' ', 'g')            AS product_name,
    lower(trim(category))                                          AS category,
    CAST(replace(trim(list_price), ',', '.') AS DECIMAL(10, 2))    AS list_price,
    source_row
FROM raw_products
