"""Catalog rows for runs (filled in by that area's work; SQL lives only in workbench/catalog/)."""


class RunsMixin:
    pass
