"""What a curation step is: a name, a pydantic parameter model, and `apply(records)`.

A step never edits records in place; it returns which ones to drop (or flag) and why, and a
step that rewrites records (PII redaction) returns the replacement of each, recorded like a
removal of the original. Filters look
at one record at a time (`Filter.check`); dedup and decontamination look at all of them.
Every step class registers itself under its name, which is what a recipe's `step:` names.
"""

from __future__ import annotations

from workbench.core.errors import WorkbenchError

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from workbench.data.records import Record
from workbench.core.errors import ConfigError
from workbench.core.registry import Registry


class RecipeError(ConfigError):
    """A recipe that is not valid: the message starts with the key path (`steps[2].params.x: ...`)."""


class CurationError(WorkbenchError, RuntimeError):
    """A curation that cannot produce a version (e.g. every record would be dropped)."""


class Params(BaseModel):
    """Base for step parameters: unknown keys are errors, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Verdict:
    """Why a record is dropped (or flagged): a short reason and a detail (measured value...)."""

    reason: str
    detail: str = ""


@dataclass
class StepResult:
    drops: dict[str, Verdict] = field(default_factory=dict)  # record id -> why
    flags: dict[str, Verdict] = field(default_factory=dict)  # kept, but marked
    # record id -> (why, the record that replaces it): the original is recorded as removed
    edits: dict[str, tuple[Verdict, Record]] = field(default_factory=dict)
    clusters: list[dict[str, Any]] = field(default_factory=list)  # dedup clusters (see dedup.py)
    report: dict[str, Any] = field(default_factory=dict)  # step-specific extras (per-suite hits...)

    def top_reasons(self, k: int = 5) -> list[list]:
        counts = (Counter(v.reason for v in self.drops.values()) + Counter(v.reason for v in self.flags.values())
                  + Counter(v.reason for v, _ in self.edits.values()))
        return [[reason, n] for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


def _check_step(name: str, obj) -> type["Step"]:
    if not (isinstance(obj, type) and issubclass(obj, Step)):
        raise TypeError(f"names {obj!r}, not a Step class (workbench.curate.steps.Step)")
    if obj.name != name:
        raise ValueError(f"the step class it names is called {obj.name!r}: name the entry point {obj.name!r}")
    return obj


# built-in steps register on `import workbench.curate`; installed packages add theirs as entry
# points in group `workbench.steps` (`my_step = "my_pkg.steps:MyStep"`, a Step class)
STEPS: Registry[type["Step"]] = Registry("curate step", "workbench.steps", _check_step)


def register(cls: type["Step"]) -> type["Step"]:
    STEPS.register(cls.name, cls)
    return cls


class Step:
    name: ClassVar[str] = ""
    Params: ClassVar[type[Params]] = Params

    def __init__(self, params: Params | None = None):
        self.params = params if params is not None else self.Params()

    def apply(self, records: list[Record]) -> StepResult:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Rule:
    """One threshold of a filter: its parameter (`top_ngram_frac.2` for a key of a mapping), whether
    a record is dropped when its value is above it (`max`) or below it (`min`), and whether the
    threshold is a whole number."""

    param: str
    kind: str  # max | min
    integer: bool = False


class Filter(Step):
    """A per-record check: `check` returns a Verdict to drop the record, or None to keep it.

    A filter with thresholds also lists them (`rules`) and gives each record's value of each
    (`rule_values`: what `check` compares, absent where the rule does not judge the record), so
    `workbench curate calibrate` can fit them on known-clean rows (curate/calibrate.py)."""

    def rules(self) -> list[Rule]:
        return []

    def rule_values(self, record: Record) -> dict[str, float]:
        return {}

    def check(self, record: Record) -> Verdict | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def apply(self, records: list[Record]) -> StepResult:
        result = StepResult()
        for rec in records:
            verdict = self.check(rec)
            if verdict is not None:
                result.drops[rec.id] = verdict
        return result
