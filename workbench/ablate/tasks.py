"""An ablation's tasks and their planning: build each variant, train each (variant x seed),
evaluate every run and the base model.

A task's inputs are typed (workbench.ablate.inputs) and its id is a content hash of them (the
variant's spec and the bytes of its source files and recipe; the dataset version, base model,
resolved train config and seed; the run or model and the eval settings), so the same inputs
anywhere give the same task. The spec is resolved once: its train section into a `TrainConfig`
(`resolved_train_config`, then each variant's method on it), each recipe read and validated once
(workbench.ablate.schema.variant_recipe).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from workbench.ablate.inputs import BuildInputs, EvalInputs, TaskInputs, TrainInputs, parse_inputs
from workbench.ablate.memory import fit_config
from workbench.ablate.schema import AblationSpec, SpecError, VariantSpec, variant_recipe
from workbench.core.errors import WorkbenchError
from workbench.core.hashing import content_hash, file_hash, task_id  # noqa: F401 - content_hash, file_hash: re-exported
from workbench.train.config import TrainConfig, TrainError

BASE = "base"  # the variant name of the untrained base model


class AblationError(WorkbenchError, RuntimeError):
    """An ablation that cannot run or report (e.g. nothing evaluated yet); the message says why."""


@dataclass(frozen=True)
class Task:
    kind: str  # build | train | eval: the kind of its inputs
    variant: str
    seed: int | None
    label: str
    inputs: TaskInputs  # everything the step reads, typed (a wire mapping given here is parsed)

    def __post_init__(self):
        if isinstance(self.inputs, dict):
            object.__setattr__(self, "inputs", parse_inputs(self.kind, self.inputs))
        if self.inputs.kind != self.kind:
            raise ValueError(f"a {self.kind} task with {type(self.inputs).__name__}")

    @property
    def id(self) -> str:
        return task_id(self.kind, self.inputs.identity(), self.inputs.hashed())

    def to_dict(self) -> dict:
        """The task on the wire (a child process, Ray): plain data; `from_dict` gives it back."""
        return {"kind": self.kind, "variant": self.variant, "seed": self.seed, "label": self.label,
                "inputs": self.inputs.to_dict(), "hashed": self.inputs.hashed()}

    @classmethod
    def from_dict(cls, d: dict) -> Task:
        inputs = parse_inputs(d["kind"], d["inputs"], d.get("hashed"))
        return cls(d["kind"], d["variant"], d["seed"], d["label"], inputs)


def resolved_train_config(spec: AblationSpec) -> TrainConfig:
    """The spec's train section, resolved once (defaults filled in; a file's content, not its
    path, feeds the task hash), so a bad key fails here, before anything runs."""
    source = spec.path(spec.train) if isinstance(spec.train, str) else dict(spec.train)
    try:
        return TrainConfig.load(source)
    except TrainError as e:  # keep its key path, under the spec's `train` key
        raise SpecError(f"train: {e}") from None


def variant_train_config(spec: AblationSpec, v: VariantSpec, config: TrainConfig) -> TrainConfig:
    """The train config of a variant: the spec's, under the variant's `method` if it names one."""
    try:
        return config.with_method(v.method)
    except TrainError as e:  # e.g. grpo's batch rule, under the variant's key
        raise SpecError(f"variants[{spec.variants.index(v)}].method: {e}") from None


def train_configs(spec: AblationSpec) -> dict[str, TrainConfig]:
    """Every variant's train config (the spec's train section resolved once); a bad one fails here."""
    config = resolved_train_config(spec)
    return {v.name: variant_train_config(spec, v, config) for v in spec.variants}


def build_inputs(spec: AblationSpec, v: VariantSpec) -> BuildInputs:
    """A variant's build inputs: its source files hashed, its recipe read once (OSError: a file
    that cannot be read now)."""
    if v.version:
        return BuildInputs(v.name, spec.base, version=v.version)
    sources = tuple(spec.path(s) if os.path.exists(spec.path(s)) else s for s in v.sources or [])
    hashes = tuple(file_hash(s) if os.path.exists(s) else s for s in sources)
    r = variant_recipe(spec, v) if v.recipe is not None else None
    return BuildInputs(v.name, spec.base, None, sources, hashes, r and r.recipe, r and r.source, r and r.file,
                       v.synth, v.mix)


def build_task(spec: AblationSpec, v: VariantSpec) -> Task:
    return Task("build", v.name, None, f"build {v.name}", build_inputs(spec, v))


def train_task(spec: AblationSpec, variant: str, version: str, seed: int, config: TrainConfig,
               init_run: str | None = None, ws=None) -> Task:
    """Train one (variant, seed); `init_run` is the run of the variant it starts `from`. With `ws`,
    a config over the memory budget gets a smaller micro-batch (ablate/memory.py)."""
    if ws is not None:
        resolved = config.resolved()
        fitted = fit_config(ws, spec.base, version, resolved, f"train {variant}")
        if fitted is not resolved:
            config = config.model_copy(update={"batch_size": fitted["batch_size"], "grad_accum": fitted["grad_accum"]})
    return Task("train", variant, seed, f"train {variant} seed {seed}", TrainInputs(version, spec.base, config, seed, init_run))


def eval_task(spec: AblationSpec, variant: str, seed: int | None, target: str) -> Task:
    label = f"eval {variant}" + (f" seed {seed}" if seed is not None else " (untrained)")
    return Task("eval", variant, seed, label, EvalInputs(target, tuple(spec.eval.suites), spec.eval.layer, spec.eval.limit,
                                                      spec.eval.max_gen_toks))

