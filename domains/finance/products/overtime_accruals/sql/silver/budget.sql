-- Silver: monthly overtime budget per cost center, typed. Comma decimals are accepted; a value
-- that still does not parse becomes NULL, which the contract (not_null) reports instead of the
-- step failing on a cast error.
SELECT
    upper(trim(cost_center))                                            AS cost_center,
    TRY_CAST(trim(period_id) AS INTEGER)                                AS period_id,
    TRY_CAST(replace(trim(budget_amount), ',', '.') AS DECIMAL(14, 2))  AS budget_amount,
    upper(trim(currency))                                               AS currency,
    source_row
FROM raw_budget
