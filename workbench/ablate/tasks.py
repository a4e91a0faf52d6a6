"""An ablation's tasks and their planning: build each variant, train each (variant x seed),
evaluate every run and the base model.

A task's id is a content hash of its inputs (the variant's spec and the bytes of its source
files and recipe; the dataset version, base model, resolved train config and seed; the run or
model and the eval settings), so the same inputs anywhere give the same task.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workbench.ablate.spec import AblationSpec, MixSpec, SpecError, VariantSpec
from workbench.errors import WorkbenchError
from workbench.hashing import content_hash, file_hash, task_id

BASE = "base"  # the variant name of the untrained base model


class AblationError(WorkbenchError, RuntimeError):
    """An ablation that cannot run or report (e.g. nothing evaluated yet); the message says why."""


@dataclass(frozen=True)
class Task:
    kind: str  # build | train | eval
    variant: str
    seed: int | None
    label: str
    inputs: dict[str, Any]  # everything the step reads; JSON-serialisable
    hashed: dict[str, Any] = field(default_factory=dict)  # extra content that defines identity (file bytes)
    # inputs that locate content rather than define it (source file paths): left out of the id,
    # their content is in `hashed`, so the same files elsewhere give the same task
    located: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        identity = {k: v for k, v in self.inputs.items() if k not in self.located}
        return task_id(self.kind, identity, self.hashed)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "variant": self.variant, "seed": self.seed, "label": self.label,
                "inputs": self.inputs, "hashed": self.hashed}


def train_config(config: dict | str):
    from workbench.train import TrainConfig

    return TrainConfig.load(config)


def resolved_train_config(spec: AblationSpec) -> dict:
    """The train section fully resolved (defaults filled in): a file's content, not its path,
    feeds the task hash, and a bad key fails here, before anything runs."""
    source = spec.path(spec.train) if isinstance(spec.train, str) else dict(spec.train)
    try:
        return train_config(source).resolved()
    except ImportError as e:
        raise AblationError(f"training is not available: {e}") from None
    except Exception as e:  # TrainError: keep its key path, under the spec's `train` key
        raise SpecError(f"train: {e}") from None


def build_task(spec: AblationSpec, v: VariantSpec) -> Task:
    inputs: dict[str, Any] = {"name": v.name, "base": spec.base}
    hashed: dict[str, Any] = {}
    if v.version:
        inputs["version"] = v.version
        return Task("build", v.name, None, f"build {v.name}", inputs)
    inputs["sources"] = [spec.path(s) if os.path.exists(spec.path(s)) else s for s in v.sources or []]
    hashed["sources"] = [file_hash(s) if os.path.exists(s) else s for s in inputs["sources"]]
    if v.recipe is not None:
        if isinstance(v.recipe, str):
            inputs["recipe"] = yaml.safe_load(Path(spec.path(v.recipe)).read_text(encoding="utf-8"))
        else:
            inputs["recipe"] = v.recipe
    if v.synth is not None:
        inputs["synth"] = v.synth.model_dump()
        inputs["mix"] = (v.mix or MixSpec()).model_dump()
    return Task("build", v.name, None, f"build {v.name}", inputs, hashed, located=("sources",))


def variant_train_config(spec: AblationSpec, v: VariantSpec, config: dict) -> dict:
    """The resolved train config of a variant: the spec's, under the variant's `method` if it names one."""
    if v.method is None:
        return config
    source = spec.path(spec.train) if isinstance(spec.train, str) else dict(spec.train)
    try:
        return train_config(source).with_method(v.method).resolved()
    except Exception as e:  # TrainError: e.g. grpo's batch rule, under the variant's key
        raise SpecError(f"variants[{spec.variants.index(v)}].method: {e}") from None


def train_task(spec: AblationSpec, variant: str, version: str, seed: int, config: dict,
               init_run: str | None = None, ws=None) -> Task:
    """Train one (variant, seed); `init_run` is the run of the variant it starts `from`. With `ws`,
    a config over the memory budget gets a smaller micro-batch (ablate/memory.py)."""
    if ws is not None:
        from workbench.ablate.memory import fit_config

        config = fit_config(ws, spec.base, version, config, f"train {variant}")
    inputs = {"version": version, "base": spec.base, "config": config, "seed": seed}
    if init_run is not None:
        inputs["init_run"] = init_run
    return Task("train", variant, seed, f"train {variant} seed {seed}", inputs)


def eval_task(spec: AblationSpec, variant: str, seed: int | None, target: str) -> Task:
    inputs = {"target": target, "suites": list(spec.eval.suites), "layer": spec.eval.layer, "limit": spec.eval.limit}
    label = f"eval {variant}" + (f" seed {seed}" if seed is not None else " (untrained)")
    return Task("eval", variant, seed, label, inputs)
