"""Select records by what they are, not how good they are: keep or drop whole sources or
reasoning modes. The step a curator uses to ask "does this part of my data matter?".

    - step: select
      params: {drop_sources: [reasoning]}          # or keep_sources, drop_modes, keep_modes

Every dropped record gets a reason row (`source:<name>` or `mode:<mode>`), like any filter.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from workbench.curate.steps import Filter, Params, Verdict, register
from workbench.data.records import Record

NO_MODE = "none"  # how a record without a reasoning mode is named in keep_modes / drop_modes


class SelectParams(Params):
    keep_sources: list[str] | None = Field(None, description="keep only records from these sources")
    drop_sources: list[str] = Field(default_factory=list, description="drop records from these sources")
    keep_modes: list[str] | None = Field(None, description="keep only these reasoning modes (think, no_think, none)")
    drop_modes: list[str] = Field(default_factory=list, description="drop these reasoning modes (think, no_think, none)")

    @model_validator(mode="after")
    def _something_selected(self):
        if self.keep_sources is None and self.keep_modes is None and not self.drop_sources and not self.drop_modes:
            raise ValueError("select needs at least one of keep_sources, drop_sources, keep_modes, drop_modes")
        return self


@register
class SelectFilter(Filter):
    """Drops records by source and/or reasoning mode; the reason names which."""

    name = "select"
    Params = SelectParams

    def check(self, record: Record) -> Verdict | None:
        p = self.params
        source = record.source or ""
        if source in p.drop_sources or (p.keep_sources is not None and source not in p.keep_sources):
            return Verdict(f"source:{source or '(none)'}", "selected out by source")
        mode = record.reasoning_mode or NO_MODE
        if mode in p.drop_modes or (p.keep_modes is not None and mode not in p.keep_modes):
            return Verdict(f"mode:{mode}", "selected out by reasoning mode")
        return None
