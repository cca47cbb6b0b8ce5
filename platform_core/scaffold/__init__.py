"""Self-service scaffolding: `mesh new` and its templates, and helpers for sample data."""
