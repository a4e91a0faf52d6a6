"""Curation steps that ablation strategies generate (workbench.ablate.strategies); usable in any
recipe too.

    - step: random_remove        # a size-matched random control
      params: {like: {steps: [{step: exact_dedup}]}, seed: 0, match: rows}
    - step: inject               # plant a defect into clean rows
      params: {defect: duplicate, rate: 0.2, seed: 0}
    - step: score_cut            # drop the lowest-scoring share of records
      params: {score: quality, remove_lowest: 0.1}

`random_remove` drops `n` records (or a `fraction`, or as many as the recipe `like` drops from
the same input) chosen at random. With `match: tokens` it drops random records until as many
tokens are gone as the reference removal took. The draw is seeded by the seed and the rest of
its parameters, so the same parameters give the same rows (content-addressed) and two controls
of different removals draw different rows.

`inject` replaces a `rate` share of the records with a defective copy; the dataset keeps its
size, so the defect's cost is not confused with less data. Defects: `duplicate` (a copy of
another record), `truncate` (the last answer cut to its first half), `unclosed_think` (the
think block's `</think>` removed, or an unclosed `<think>` opened), `swapped_response` (two
records' answers exchanged), `empty_response` (the last answer emptied). Each planted record is
recorded like an edit: the original is a removal with reason `inject:<defect>`.

`score_cut` drops the `remove_lowest` share by a per-record score (SCORES: `quality`, `length`,
`answer_words`; or `meta:<key>`, a number stored with each record, e.g. a classifier's score).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from workbench.curate.dedup import quality_score
from workbench.curate.steps import CurationError, Params, Step, StepResult, Verdict, register
from workbench.data.profile import token_counts
from workbench.data.records import Record
from workbench.core.hashing import draw_seed
from workbench.core.registry import Registry, check_callable

DEFECTS = ("duplicate", "truncate", "unclosed_think", "swapped_response", "empty_response")


# --- random_remove -----------------------------------------------------------------------


class RandomRemoveParams(Params):
    n: int | None = Field(None, ge=0, description="drop this many records")
    fraction: float | None = Field(None, ge=0, lt=1, description="drop this share of the records")
    like: dict | None = Field(None, description="a recipe: drop as many records (or tokens) as it drops here")
    seed: int = 0
    match: Literal["rows", "tokens"] = "rows"
    tokenizer: str = "smollm2-135m-instruct"

    @model_validator(mode="after")
    def _one_size(self):
        if sum(x is not None for x in (self.n, self.fraction, self.like)) != 1:
            raise ValueError("give exactly one of n, fraction or like")
        if self.like is not None:
            steps = self.like.get("steps") if isinstance(self.like, dict) else None
            if any((s.get("step") if isinstance(s, dict) else s) == "random_remove" for s in steps or []):
                raise ValueError("like: a control cannot be matched to another random control")
            from workbench.curate.recipe import load_recipe  # not at import: `import workbench.curate` registers
            # every step without recipe.py (tests/test_registries.py)

            load_recipe(self.like)  # a bad reference recipe fails here, with its key path
        if self.match == "tokens" and self.like is None:
            raise ValueError("match: tokens needs `like` (the removal whose tokens to match)")
        return self


def _tokens(records: list[Record], tokenizer: str) -> list[int]:
    counts = token_counts(records, tokenizer)
    if counts is None:  # pragma: no cover - a tokenizer name is always given
        raise CurationError("random_remove with match: tokens needs a tokenizer")
    return counts


@register
class RandomRemove(Step):
    """Drops records at random: the size-matched control of a removal."""

    name = "random_remove"
    Params = RandomRemoveParams

    def target(self, records: list[Record]) -> tuple[int, int | None]:
        """(rows to drop, tokens to drop or None) for this input."""
        p = self.params
        if p.n is not None:
            return min(p.n, len(records)), None
        if p.fraction is not None:
            return int(round(p.fraction * len(records))), None
        from workbench.curate.recipe import load_recipe, run_steps  # see above

        kept = run_steps(records, load_recipe(p.like)).kept_records  # type: ignore[attr-defined]
        if p.match == "rows":
            return len(records) - len(kept), None
        tokens = _tokens(records, p.tokenizer)
        kept_ids = {r.id for r in kept}
        return len(records) - len(kept), sum(t for r, t in zip(records, tokens) if r.id not in kept_ids)

    def apply(self, records: list[Record]) -> StepResult:
        p = self.params
        n_rows, n_tokens = self.target(records)
        rng = np.random.default_rng(draw_seed("random_remove", p.model_dump(mode="json")))
        order = rng.permutation(len(records))
        if n_tokens is None:
            chosen = order[:n_rows]
            detail = f"{n_rows} of {len(records)} rows at random (seed {p.seed})"
        else:
            tokens = _tokens(records, p.tokenizer)
            chosen, total = [], 0
            for i in order:  # random rows until the reference removal's tokens are matched
                if total >= n_tokens:
                    break
                chosen.append(i)
                total += tokens[i]
            detail = f"{total} of {n_tokens} tokens matched, {len(chosen)} rows (seed {p.seed})"
        result = StepResult(report={"rows": len(chosen), "target_rows": n_rows, "target_tokens": n_tokens})
        for i in sorted(int(i) for i in chosen):
            result.drops[records[i].id] = Verdict("random_control", detail)
        return result


# --- inject -------------------------------------------------------------------------------


class InjectParams(Params):
    defect: Literal[DEFECTS] = Field(..., description="what to plant: " + ", ".join(DEFECTS))  # type: ignore[valid-type]
    rate: float = Field(..., gt=0, lt=1, description="share of the records that get the defect")
    seed: int = 0


def _last_assistant(record: Record) -> int:
    return max(i for i, m in enumerate(record.messages) if m["role"] == "assistant")


def _with_answer(record: Record, text: str) -> Record:
    msgs = [dict(m) for m in record.messages]
    msgs[_last_assistant(record)]["content"] = text
    return record.replace(messages=msgs)


def _truncate(text: str) -> str:
    words = text.split(" ")
    return " ".join(words[: max(1, len(words) // 2)]) if len(words) > 1 else text[: max(1, len(text) // 2)]


def _unclose(text: str) -> str:
    if "</think>" in text:
        return text.replace("</think>", "", 1)
    return "<think>\n" + text


@register
class Inject(Step):
    """Plants a defect into a share of the records (the dataset keeps its size)."""

    name = "inject"
    Params = InjectParams

    def apply(self, records: list[Record]) -> StepResult:
        p = self.params
        n = len(records)
        k = int(round(p.rate * n))
        if p.defect in ("duplicate", "swapped_response") and n < 2:
            return StepResult()
        rng = np.random.default_rng(draw_seed("inject", p.model_dump(mode="json")))
        order = [int(i) for i in rng.permutation(n)]
        victims = order[:k]
        result = StepResult(report={"defect": p.defect, "rate": p.rate, "planted": k})
        why = Verdict(f"inject:{p.defect}", f"planted at rate {p.rate} (seed {p.seed})")
        if p.defect == "duplicate":  # a victim becomes a copy of a record that stays itself
            donors = order[k:] or order[:1]
            for j, i in enumerate(victims):
                result.edits[records[i].id] = (why, records[donors[j % len(donors)]].replace())  # same content
            return result
        if p.defect == "swapped_response":
            victims = victims[: len(victims) // 2 * 2] or order[:2]
            for a, b in zip(victims[0::2], victims[1::2]):
                ra, rb = records[a], records[b]
                result.edits[ra.id] = (why, _with_answer(ra, rb.messages[_last_assistant(rb)]["content"]))
                result.edits[rb.id] = (why, _with_answer(rb, ra.messages[_last_assistant(ra)]["content"]))
            return result
        change: Callable[[str], str] = {"truncate": _truncate, "unclosed_think": _unclose,
                                        "empty_response": lambda t: ""}[p.defect]
        for i in victims:
            rec = records[i]
            result.edits[rec.id] = (why, _with_answer(rec, change(rec.messages[_last_assistant(rec)]["content"])))
        return result


# --- score_cut ----------------------------------------------------------------------------

# installed packages add theirs as entry points in group `workbench.scores` (a (Record) -> float)
SCORES: Registry[Callable[[Record], float]] = Registry("record score", "workbench.scores", check_callable)


def score(name: str):
    """Register a per-record score (higher = better) for `score_cut` and score sweeps."""

    def deco(fn: Callable[[Record], float]):
        SCORES.register(name, fn)
        return fn

    return deco


@score("quality")
def _quality(record: Record) -> float:
    return quality_score(record)


@score("length")
def _length(record: Record) -> float:
    return float(len(record.assistant_text()))


@score("answer_words")
def _answer_words(record: Record) -> float:
    return float(len(record.assistant_text().split()))


def record_score(name: str, record: Record) -> float:
    if name.startswith("meta:"):
        value = record.meta.get(name[5:])
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise CurationError(f"record {record.id}: meta key {name[5:]!r} is not a number ({value!r}); "
                                f"score_cut with score {name!r} needs it on every record")
        return float(value)
    return SCORES[name](record)


class ScoreCutParams(Params):
    score: str = Field(..., description="a registered score (quality, length, answer_words) or meta:<key>")
    remove_lowest: float = Field(..., gt=0, lt=1, description="share of the records to drop, lowest scores first")

    @field_validator("score")
    @classmethod
    def _known(cls, v):
        if not v.startswith("meta:") and v not in SCORES:
            raise ValueError(f"unknown score {v!r} (known: {', '.join(sorted(SCORES))}, or meta:<key>)")
        return v


@register
class ScoreCut(Step):
    """Drops the lowest-scoring share of the records (ties broken by input order)."""

    name = "score_cut"
    Params = ScoreCutParams

    def apply(self, records: list[Record]) -> StepResult:
        p = self.params
        scores = [record_score(p.score, r) for r in records]
        k = int(round(p.remove_lowest * len(records)))
        lowest = sorted(range(len(records)), key=lambda i: (scores[i], i))[:k]
        result = StepResult(report={"score": p.score, "cut": scores[lowest[-1]] if lowest else None})
        for i in sorted(lowest):
            result.drops[records[i].id] = Verdict(f"score:{p.score}", f"{scores[i]:.4g} in the lowest {p.remove_lowest:g}")
        return result
