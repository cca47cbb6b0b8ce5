"""Alerts: what is wrong in the mesh now (conditions), who hears of it and how (channels), on changes only (engine)."""
