-- Gold dimension: one row per product of the catalogue, with its reference list price (EUR).
SELECT
    product_id,
    product_name,
    category,
    list_price
FROM products
ORDER BY product_id
