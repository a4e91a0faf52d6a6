"""Catalog rows for synth (filled in by that area's work; SQL lives only in workbench/catalog/)."""


class SynthMixin:
    pass
