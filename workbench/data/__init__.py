"""Data in: one record schema, format adapters and readers, ingest, content-addressed versions, profiles and diffs."""

# The record schema and its formats, then the preference and prompt formats (in that order: format
# detection tries them as registered). Importing any module of this package registers them all.
from workbench.data import records as _records  # noqa: F401
from workbench.data import pairs as _pairs  # noqa: F401
