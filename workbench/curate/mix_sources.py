"""A mixture of record sources at a fixed budget, as a curation step: what `leave_one_out:
{mix: ...}` generates (workbench.ablate.strategies), usable in any recipe.

    - step: mix_sources
      params: {weights: {math: 1, chat: 2}, leave_out: [chat], balance: tokens, budget: leave_one_out}

Records are grouped by their `source`. Each weighted source keeps a seeded sample of its
records whose size (tokens with `balance: tokens`, records with `examples`) is its share of the
budget; `leave_out` sources are dropped and their share goes to the others in their weights, so
the mixture without a source has the same budget as the whole mixture. The budget is a number
(tokens or records), `full` (the largest whole mixture with no record repeated) or
`leave_one_out` (the default: the largest at which the whole mixture and every mixture with one
source left out need no repeats, so they all fill the same budget from the same input). Each
source's sample is the prefix of one seeded shuffle of that source, so a source's records in the
whole mixture are also in every mixture that gives it a larger share; the sources are filled in
turn, each making up the previous ones' rounding, so the total lands within half a record of the
budget. A curation step only keeps or drops records: a budget that needs repeats is refused,
naming the source that is short.

Every dropped record gets a reason: `mix:left_out` (its source is left out), `mix:not_mixed`
(its source has no weight) or `mix:not_sampled` (beyond its source's share).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from workbench.curate.ablation_steps import _tokens, draw_seed
from workbench.curate.steps import CurationError, Params, Step, StepResult, Verdict, register
from workbench.data.profile import DEFAULT_TOKENIZER
from workbench.data.records import Record

NO_SOURCE = "(none)"


class MixSourcesParams(Params):
    weights: dict[str, float] = Field(..., min_length=1, description="record source -> relative share of the budget")
    leave_out: list[str] = Field(default_factory=list, description="sources of `weights` left out; the others fill in")
    balance: Literal["tokens", "examples"] = "tokens"
    budget: int | Literal["full", "leave_one_out"] = Field("leave_one_out", description="tokens (or records), or how "
                                                           "to find the largest: full | leave_one_out")
    seed: int = 0
    tokenizer: str = DEFAULT_TOKENIZER

    @field_validator("weights")
    @classmethod
    def _weights(cls, v):
        if any(w < 0 for w in v.values()):
            raise ValueError("weights must not be negative")
        if sum(v.values()) <= 0:
            raise ValueError("weights must sum to more than zero")
        return v

    @field_validator("budget")
    @classmethod
    def _budget(cls, v):
        if isinstance(v, int) and v < 1:
            raise ValueError("a budget is at least 1")
        return v

    @model_validator(mode="after")
    def _left_out_known(self):
        unknown = [s for s in self.leave_out if s not in self.weights]
        if unknown:
            raise ValueError(f"leave_out: {', '.join(unknown)} not in weights ({', '.join(self.weights)})")
        if sum(w for s, w in self.weights.items() if s not in self.leave_out) <= 0:
            raise ValueError("leave_out: nothing with a weight is left in the mixture")
        return self


def shares(weights: dict[str, float], leave_out=()) -> dict[str, float]:
    """Each source's share of the budget once `leave_out` is dropped (sources without weight: none)."""
    kept = {s: w for s, w in weights.items() if s not in leave_out and w > 0}
    total = sum(kept.values())
    return {s: w / total for s, w in kept.items()}


def largest_budget(available: dict[str, float], weights: dict[str, float], how: str) -> float:
    """The largest budget the mixture (`full`) or it and every one-left-out mixture (`leave_one_out`) fill."""
    cases = [()] + ([(s,) for s in weights if weights[s] > 0] if how == "leave_one_out" else [])
    cases = [c for c in cases if shares(weights, c)]
    return min(available[s] / share for c in cases for s, share in shares(weights, c).items())


@register
class MixSources(Step):
    """Samples each record source to its share of a fixed budget (a source left out: the others fill in)."""

    name = "mix_sources"
    Params = MixSourcesParams

    def apply(self, records: list[Record]) -> StepResult:
        p = self.params
        unit = "tokens" if p.balance == "tokens" else "records"
        sizes = _tokens(records, p.tokenizer) if p.balance == "tokens" else [1] * len(records)
        by_source: dict[str, list[int]] = {}
        for i, r in enumerate(records):
            by_source.setdefault(r.source or NO_SOURCE, []).append(i)
        available = {s: float(sum(sizes[i] for i in by_source.get(s, []))) for s in p.weights}
        empty = [s for s, w in p.weights.items() if w > 0 and not available[s]]
        if empty:
            raise CurationError(f"mix_sources: source {empty[0]!r} has a weight but no records here "
                                f"(sources present: {', '.join(sorted(by_source))})")
        budget = float(p.budget) if isinstance(p.budget, int) else largest_budget(available, p.weights, p.budget)
        share = shares(p.weights, p.leave_out)
        for s, f in share.items():
            if budget * f > available[s] + 1e-9:
                raise CurationError(
                    f"mix_sources: source {s!r} has {available[s]:.0f} {unit} but its share of the {budget:.0f}-{unit} "
                    f"budget without {', '.join(p.leave_out) or 'any source left out'} is {budget * f:.0f}; lower the "
                    "budget or leave it out (`leave_one_out`: the largest budget every mixture fills)")
        result = StepResult()
        picked: dict[str, int] = {}
        given, taken = 0.0, 0
        for s in sorted(share):  # fill in turn; each source makes up the rounding before it
            given += budget * share[s]
            order = np.random.default_rng(draw_seed("mix_sources", p.seed, s)).permutation(len(by_source[s]))
            total, n = 0, 0
            for k in order:
                size = sizes[by_source[s][int(k)]]
                if taken + total + size - given > given - taken - total:  # overshoots more than stopping short
                    break
                total, n = total + size, n + 1
            taken += total
            picked[s] = total
            detail = f"{total} of {available[s]:.0f} {unit} sampled for a {share[s]:.0%} share of {budget:.0f}"
            for k in order[n:]:
                result.drops[records[by_source[s][int(k)]].id] = Verdict("mix:not_sampled", f"{s}: {detail}")
        for s, idx in by_source.items():
            if s in share:
                continue
            why = (Verdict("mix:left_out", f"source {s} left out of the mixture") if s in p.leave_out
                   else Verdict("mix:not_mixed", f"source {s} has no weight in the mixture"))
            for i in idx:
                result.drops[records[i].id] = why
        result.report = {"budget": round(budget, 1), "unit": unit, "total": taken, "selected": picked,
                         "available": {s: round(a, 1) for s, a in available.items()}, "leave_out": list(p.leave_out)}
        return result
