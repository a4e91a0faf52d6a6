"""Training methods: `sft`, `dpo`, `grpo`, one registry (a taken name is refused).

A method names the record kind it trains on, its own settings (`config`: a pydantic model, the
TrainConfig section named after the method, part of the run id only when the method uses it, so
SFT run ids are what they always were; the model may check its section against the shared
settings with `check(cfg)` and add generated tokens with `completion_tokens()`), its report
panels, and two functions, given as "module:function" and imported on use (so reading a config
does not import trl):

- `prepare(records, tokenizer, cfg, seed) -> Prepared`: checks and converts the records
  before anything is written (a bad row fails here);
- `fit(FitArgs) -> RunResult`: trains, saves `adapter/`, finishes the catalog row.

Another method comes from an installed package: a `Method` in its module,

    from workbench.train.methods import Method
    ORPO = Method("orpo", kind="preference", prepare="my_pkg.orpo:prepare", fit="my_pkg.orpo:fit",
                  config="my_pkg.orpo:ORPOSettings")   # its `orpo:` section in a train config

named as an entry point in its pyproject.toml (README, "Extending"):

    [project.entry-points."workbench.methods"]
    orpo = "my_pkg.orpo:ORPO"
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core.registry import Registry, check_named
from workbench.train.dpo_settings import DPOSettings
from workbench.train.errors import TrainError
from workbench.train.grpo_settings import GRPOSettings


@dataclass(frozen=True)
class Panel:
    """One of a method's training-curve panels in the report and the view (workbench.report.training)."""

    key: str  # a run_steps metrics key; "loss" is the training loss column; a "*" matches a reward's name
    title: str
    empty: str = "not logged"  # what the panel says when no run logged it
    zero_line: bool = False  # draw y = 0 (a margin: above is right)


@dataclass(frozen=True)
class Method:
    name: str
    kind: str  # the record kind it trains on: sft | preference | prompt
    prepare: str | Callable
    fit: str | Callable
    config: str | type | None = None  # its settings model ("module:Class" or the class): the section named after it
    summary: str = ""
    panels: tuple[Panel, ...] = ()  # its curves beside the loss (what its trainer logs), drawn per run and seed
    token_budget: bool = False  # max_tokens and keep_adapters apply (both count sft rows and steps)
    keyed_order: bool = True  # rows in the keyed order (data_order, in the run id); False: the trainer's own sampler
    sequences_per_example: int = 1  # sequences one example puts in a micro-batch (memory planning: dpo's pair is 2)
    fused_head: bool = False  # its TRL trainer patches in the fused LM head (memory planning)

    @property
    def section(self) -> str | None:
        """Its TrainConfig section: the method's name, where it has settings."""
        return self.name if self.config is not None else None

    def settings_model(self) -> type | None:
        return self._resolve(self.config) if isinstance(self.config, str) else self.config

    @staticmethod
    def _resolve(ref: str | Callable) -> Callable:
        if callable(ref):
            return ref
        module, _, name = ref.partition(":")
        return getattr(importlib.import_module(module), name)

    def prepare_fn(self) -> Callable:
        return self._resolve(self.prepare)

    def fit_fn(self) -> Callable:
        return self._resolve(self.fit)


@dataclass
class FitArgs:
    """Everything a method's fit needs, checked and prepared by `train` before the run row exists."""

    ws: Any
    run_id: str
    run_dir: Path
    ident: dict
    cfg: Any  # TrainConfig
    data: Any  # Prepared
    tokenizer: Any
    targets: list[str]
    mode: str
    seed: int
    progress: bool
    init_adapter: Path | None = None  # --from RUN: that run's adapter is trained further


# built in below; installed packages add theirs as entry points in group `workbench.methods`
# (`orpo = "my_pkg.orpo:ORPO"`, a Method), found in every process on the first lookup
METHODS: Registry[Method] = Registry("training method", "workbench.methods", check_named(Method, "training method"))


def register_method(method: Method) -> Method:
    METHODS.register(method.name, method)
    return method


def method_names() -> list[str]:
    return list(METHODS)


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise TrainError(f"unknown training method {name!r}; known: {', '.join(METHODS)}")
    return METHODS[name]


KIND_HINTS = {
    "prompt": "it holds prompt-only records (no assistant turn): answer them first with "
              "`workbench synth --data {version}`, or train on them with --method grpo",
    "preference": "it holds preference pairs: train on them with --method dpo",
    "sft": "it holds SFT conversations: train on them with --method sft, or ingest preference pairs "
           "(prompt/chosen/rejected) for dpo or prompt-only rows (--format prompts) for grpo",
}


def check_kind(method: Method, kind: str, version: str) -> None:
    """Refuse data of the wrong kind before anything is written, saying what to do instead."""
    if kind != method.kind:
        hint = KIND_HINTS.get(kind, "").format(version=version)
        raise TrainError(f"{method.name} trains on {method.kind} records, but version {version} is not that: {hint}")


def init_adapter(cat, ref: str | None, base_hash: str) -> tuple[str | None, Path | None]:
    """(run id, adapter dir) of the finished run a new run starts from (--from), checked."""
    if ref is None:
        return None, None
    run = cat.get_run(ref)
    adapter = Path(run["adapter_dir"])
    if run["status"] != "finished" or not (adapter / "adapter_config.json").exists():
        raise TrainError(f"--from {ref}: run {run['id']} is {run['status']}, with no adapter to start from; finish it first")
    if run["base_model_hash"] != base_hash:
        raise TrainError(f"--from {ref}: run {run['id']} was trained on another base model ({run['base_model']}); "
                         "start from a run on the same base")
    return run["id"], adapter


register_method(Method("sft", "sft", "workbench.train.render:prepare_data", "workbench.train.sft:fit_sft",
                       summary="supervised fine-tuning on conversations (loss on assistant turns)", token_budget=True))
register_method(Method("dpo", "preference", "workbench.train.dpo:prepare_pairs", "workbench.train.dpo:fit_dpo",
                       config=DPOSettings, summary="direct preference optimisation on chosen/rejected pairs",
                       panels=(Panel("loss", "DPO loss"),
                               Panel("rewards/margins", "reward margin (chosen - rejected)", zero_line=True),
                               Panel("rewards/accuracies", "reward accuracy (chosen > rejected)")),
                       sequences_per_example=2, fused_head=True))
register_method(Method("grpo", "prompt", "workbench.train.grpo:prepare_prompts", "workbench.train.grpo:fit_grpo",
                       config=GRPOSettings, summary="group-relative policy optimisation with the suites' scorers as rewards",
                       panels=(Panel("reward", "mean reward (all functions)"),
                               Panel("rewards/*/mean", "mean reward per function"),
                               Panel("kl", "KL to the reference", "not logged: grpo.beta is 0 (no reference scored)")),
                       keyed_order=False, fused_head=True))
