"""Catalog rows for evals (filled in by that area's work; SQL lives only in workbench/catalog/)."""


class EvalsMixin:
    pass
