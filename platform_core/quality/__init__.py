"""Contract checks: the rules of a contract evaluated as SQL in DuckDB or as pandera schemas, with one meaning."""
