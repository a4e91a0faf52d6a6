"""Data in: one record schema, format adapters and readers, ingest, content-addressed versions, profiles and diffs."""
