"""The typed outputs of an ablation's tasks: what a build, train or eval step hands on.

A step returns one of these; the runner stores `to_dict()` in the catalog's JSON `output`
column; the next task and the report read it back with `from_dict`, which refuses a missing
or unknown field (naming it), so a renamed field fails loudly instead of blanking a column.
Follow a version id from `workbench ablate` down to training: BuildOutput.version is the
dataset version a TrainOutput's run was trained on; EvalOutput.target is that run's id.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from workbench.core.errors import WorkbenchError


class OutputError(WorkbenchError):
    """A stored task output that does not match its type (written by another version of workbench)."""


class _Output:
    """to_dict/from_dict for a flat dataclass whose nested fields are listed in `_nested`."""

    _nested: ClassVar[dict[str, type]] = {}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, d: dict[str, Any]):
        if not isinstance(d, dict):
            raise OutputError(f"{cls.__name__}: expected an object, got {type(d).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(d) - set(fields))
        required = {n for n, f in fields.items()
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        missing = sorted(required - set(d))
        if unknown or missing:
            raise OutputError(f"{cls.__name__}: " + "; ".join(
                ([f"unknown field(s) {', '.join(unknown)}"] if unknown else [])
                + ([f"missing field(s) {', '.join(missing)}"] if missing else []))
                + " (a task output from another version of workbench: rerun the ablation)")
        kw = dict(d)
        for name, typ in cls._nested.items():
            if name in kw and kw[name] is not None:
                kw[name] = [typ.from_dict(x) for x in kw[name]]
        return cls(**kw)


@dataclass(frozen=True)
class _Placed(_Output):
    """A task's output also says where the task ran (set by the executor; not part of any id)."""

    where: str | None = field(default=None, kw_only=True)  # host, and the Ray node on a cluster


@dataclass(frozen=True)
class CurationStep(_Output):
    """One curation step's counts (from `CurationResult.summary`)."""

    step: str
    n_in: int
    kept: int
    dropped: int
    flagged: int

    @classmethod
    def from_summary(cls, s: dict[str, Any]) -> CurationStep:
        return cls(s["step"], s["in"], s["kept"], s["dropped"], s["flagged"])


@dataclass(frozen=True)
class MixComponent(_Output):
    """One (source, reasoning mode) row of a mixture's composition (`synth.mix.composition_table`)."""

    source: str
    reasoning_mode: str
    examples: int
    pct_examples: float
    tokens: int
    pct_tokens: float
    avg_tokens: float
    avg_turns: float


@dataclass(frozen=True)
class BuildStep(_Output):
    """One step of building a variant's data: version (given), ingest, concat, curate, synth or mix."""

    _nested: ClassVar[dict[str, type]] = {"curation": CurationStep, "composition": MixComponent}

    step: str
    version: str
    n_rows: int | None = None
    input: str | None = None  # ingest: the source file
    mode: str | None = None  # synth: think | no_think | both
    curation: list[CurationStep] | None = None  # curate: per-step counts
    composition: list[MixComponent] | None = None  # mix: the mixture's composition


@dataclass(frozen=True)
class BuildOutput(_Placed):
    _nested: ClassVar[dict[str, type]] = {"steps": BuildStep}

    version: str
    n_rows: int
    steps: list[BuildStep] = field(default_factory=list)


@dataclass(frozen=True)
class TrainOutput(_Placed):
    run_id: str
    adapter_dir: str
    mode: str | None
    train_wall_s: float | None
    tokens_per_s: float | None


@dataclass(frozen=True)
class SuiteOutput(_Output):
    """One suite's result for one target (the fields of `evals.runner.SuiteResult` an ablation keeps)."""

    suite: str
    layer: str
    result_id: str
    n_items: int
    metrics: dict[str, float]
    primary_metric: str | None
    model_key: str
    run_id: str | None
    wall_s: float

    @classmethod
    def from_result(cls, r) -> SuiteOutput:
        return cls(**{f.name: getattr(r, f.name) for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class EvalOutput(_Placed):
    _nested: ClassVar[dict[str, type]] = {"results": SuiteOutput}

    target: str
    results: list[SuiteOutput] = field(default_factory=list)


TaskOutput = BuildOutput | TrainOutput | EvalOutput
OUTPUTS: dict[str, type] = {"build": BuildOutput, "train": TrainOutput, "eval": EvalOutput}


def parse_output(kind: str, d: dict[str, Any]) -> TaskOutput:
    """The typed output of a task of this kind from its stored JSON."""
    if kind not in OUTPUTS:
        raise OutputError(f"unknown task kind {kind!r}; known: {', '.join(OUTPUTS)}")
    return OUTPUTS[kind].from_dict(d)


def done_outputs(tasks: list[dict[str, Any]], kind: str) -> list[tuple[dict[str, Any], TaskOutput]]:
    """(row, typed output) of each done task of this kind among an ablation's stored task rows."""
    return [(t, parse_output(kind, t["output"])) for t in tasks if t["kind"] == kind and t["status"] == "done"]

