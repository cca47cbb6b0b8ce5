-- Gold dimension: one row per overtime reason, with its pay multiplier.
SELECT
    reason_code,
    label,
    category,
    rate_multiplier,
    is_compensable
FROM overtime_reasons
