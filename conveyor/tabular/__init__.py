"""Tabular data handling: reading raw files, inferring and applying a schema, splitting."""
