"""Catalog rows for ablations (filled in by that area's work; SQL lives only in workbench/catalog/)."""


class AblationsMixin:
    pass
