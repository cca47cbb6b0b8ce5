-- Gold dimension: one row per cost center, with the HR department it carries, the general-ledger
-- account overtime wages are booked on and the profit center it rolls up to.
SELECT
    cost_center,
    entity_id,
    department,
    cost_center_name,
    gl_account,
    profit_center
FROM cost_centers
ORDER BY cost_center
