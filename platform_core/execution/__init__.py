"""Write, audit, publish: running a product's steps without Dagster."""
