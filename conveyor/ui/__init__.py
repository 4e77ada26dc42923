"""The web dashboard at /ui: server-rendered pages; live data and actions go through /api/v1."""
