-- Bronze: the ERP's cost center mapping exactly as delivered. Every source column stays text so
-- that nothing is lost or rejected at ingestion; typing and cleaning happen in silver. The
-- platform adds the lineage columns source_file, source_row and ingested_at to every raw input.
SELECT *
FROM cost_centers_file
