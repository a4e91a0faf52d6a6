"""Preference-pair curation: drop pairs that teach no preference.

    - step: pair_equal
      params: {normalize: true}   # compare after collapsing whitespace (case is kept: it can be the preference)

A pair whose chosen completion equals its rejected one has a DPO loss gradient of zero (the
two log-ratios cancel) and only dilutes the batch; each dropped pair gets a reason row
`chosen_equals_rejected`. Records that are not preference pairs are kept as they are.
The other steps apply to pairs too: they see `messages`, the prompt plus the chosen turn, so
structure, length, exact and near dedup work on prompt + chosen, and decontamination on the prompt.
"""

from __future__ import annotations

import re

from pydantic import Field

from workbench.curate.steps import Filter, Params, Verdict, register
from workbench.data.records import Record

_SPACE = re.compile(r"\s+")


class PairEqualParams(Params):
    normalize: bool = Field(True, description="compare with whitespace runs collapsed and ends stripped")


@register
class PairEqualFilter(Filter):
    """Preference pairs whose chosen and rejected completions are the same text."""

    name = "pair_equal"
    Params = PairEqualParams

    def _norm(self, text: str) -> str:
        return _SPACE.sub(" ", text).strip() if self.params.normalize else text

    def check(self, record: Record) -> Verdict | None:
        if record.rejected is None:
            return None
        if self._norm(record.chosen or "") == self._norm(record.rejected):
            return Verdict("chosen_equals_rejected", f"both completions: {record.rejected[:80]!r}")
        return None
