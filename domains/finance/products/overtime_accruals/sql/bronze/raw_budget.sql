-- Bronze: the monthly overtime budget extract exactly as delivered (all text, with the lineage
-- columns source_file, source_row and ingested_at added by the platform).
SELECT *
FROM budget_file
