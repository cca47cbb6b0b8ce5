"""The serving database: published ports for people and their BI tools, in PostgreSQL, under the same governance."""
