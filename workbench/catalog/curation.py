"""Catalog rows for curation (filled in by that area's work; SQL lives only in workbench/catalog/)."""


class CurationMixin:
    pass
