"""Training settings (TrainConfig) and the error raised for bad training input."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from workbench.config import ConfigSource, problems, read_config
from workbench.errors import ConfigError


REPORT_TARGETS = ("none", "tensorboard", "mlflow", "wandb")


class TrainError(ConfigError):
    """Bad training input (config, data, model/template); raised before any step runs."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DPOSettings(_Section):
    """TRL DPOTrainer settings (used when method is dpo)."""

    beta: float = Field(0.1, gt=0)  # how far the policy may move from the reference
    loss_type: str = "sigmoid"  # a DPOConfig loss_type: sigmoid, ipo, hinge, ...
    label_smoothing: float = Field(0.0, ge=0, lt=0.5)


class GRPOSettings(_Section):
    """TRL GRPOTrainer settings (used when method is grpo); rewards name workbench.train.rewards."""

    rewards: list[str] = Field(default_factory=lambda: ["gsm_answer"], min_length=1)
    reward_weights: list[float] | None = None
    num_generations: int = Field(4, ge=2)  # completions per prompt (the group)
    max_completion_length: int = Field(128, gt=0)
    temperature: float = Field(1.0, gt=0)
    beta: float = Field(0.0, ge=0)  # KL weight; > 0 scores a reference: the base, or the `from:` run's adapter

    @model_validator(mode="after")
    def _check(self):
        from workbench.train.rewards import REWARDS

        unknown = [r for r in self.rewards if r not in REWARDS]
        if unknown:
            raise ValueError(f"unknown reward {', '.join(unknown)}; known: {', '.join(REWARDS)}")
        if self.reward_weights is not None and len(self.reward_weights) != len(self.rewards):
            raise ValueError(f"reward_weights has {len(self.reward_weights)} values for {len(self.rewards)} rewards")
        return self


class TrainConfig(BaseModel):
    """Training settings. Unknown keys are errors (a typo must not silently train defaults)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    method: str = "sft"  # a workbench.train.methods name: sft | dpo | grpo
    dpo: DPOSettings = Field(default_factory=DPOSettings)
    grpo: GRPOSettings = Field(default_factory=GRPOSettings)
    # LoRA
    r: int = Field(16, gt=0)
    alpha: float = Field(32, gt=0)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | None = None  # None: found from the model's linear layers
    # optimisation
    learning_rate: float = Field(2e-4, gt=0, alias="lr")
    # the budget: max_steps (> 0), else max_tokens (the fewest steps whose rows, in the keyed
    # order, hold that many tokens: workbench.train.coverage), else epochs
    epochs: float = Field(1.0, gt=0)
    max_steps: int = -1  # > 0 overrides epochs
    max_tokens: int | None = Field(None, gt=0)
    batch_size: int = Field(8, gt=0)
    grad_accum: int = Field(1, gt=0)
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    warmup_steps: int = Field(0, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    lr_scheduler: str = "linear"
    max_grad_norm: float = 1.0
    # data
    max_length: int = Field(1024, gt=8)
    packing: bool = False
    assistant_only_loss: bool = True
    chat_template: str | None = None  # a Jinja template, or a path to one, for tokenizers without one
    eval_fraction: float = Field(0.0, ge=0, lt=1)
    eval_steps: int | None = Field(None, gt=0)
    # how rows are ordered: "keyed" by a hash of (seed, epoch, record id), so runs of two variants
    # at one seed see their shared rows in the same order (workbench.train.order); sft and dpo. In
    # the run id: runs trained in the Trainer's positional random order before it are other runs.
    data_order: Literal["keyed"] = "keyed"
    # runtime
    gradient_checkpointing: bool = False
    save_steps: int = Field(50, gt=0)
    # keep the adapters of the last K steps spaced over the run's second half (runs/ID/adapters/),
    # so an eval can average likelihood metrics over them (workbench.evals.checkpoints); sft only
    keep_adapters: int = Field(1, ge=1, le=16)
    logging_steps: int = Field(1, gt=0)
    sanity_prompts: int = Field(3, ge=0)
    sanity_max_new_tokens: int = Field(64, gt=0)
    # where TRL also sends the loss curves: none, or tensorboard / mlflow / wandb (offline: wandb
    # is put in offline mode unless WANDB_MODE says otherwise; mlflow writes ./mlruns by default)
    report_to: str | list[str] = "none"

    @model_validator(mode="after")
    def _check(self):
        from workbench.train.methods import METHODS

        if self.target_modules is not None and not self.target_modules:
            raise ValueError("target_modules: give at least one module name, or leave it out to find them")
        if self.max_steps > 0 and self.max_tokens:
            raise ValueError(f"max_tokens: give one budget, max_steps ({self.max_steps}) or max_tokens ({self.max_tokens})")
        if self.method not in METHODS:
            raise ValueError(f"method: unknown training method {self.method!r}; known: {', '.join(METHODS)}")
        if self.keep_adapters > 1 and self.method != "sft":
            raise ValueError(f"keep_adapters: checkpoint averaging keeps sft adapters; give {self.method} 1")
        if self.max_tokens and self.method != "sft":
            raise ValueError(f"max_tokens: a token budget is counted on sft rows; give {self.method} max_steps or epochs")
        if self.method == "grpo" and (self.batch_size * self.grad_accum) % self.grpo.num_generations:
            raise ValueError(f"grpo.num_generations: {self.grpo.num_generations} must divide batch_size x grad_accum "
                             f"({self.batch_size} x {self.grad_accum}): each batch holds whole groups")
        if self.method == "grpo" and self.eval_fraction and self.batch_size % self.grpo.num_generations:
            raise ValueError(f"grpo.num_generations: {self.grpo.num_generations} must divide batch_size "
                             f"({self.batch_size}) when eval_fraction > 0: an eval batch holds whole groups")
        return self

    @classmethod
    def load(cls, config: "TrainConfig | dict | str | os.PathLike | None") -> "TrainConfig":
        """From None (defaults), a dict, a YAML file path or a TrainConfig; errors name file:line and key path."""
        if config is None:
            return cls()
        if isinstance(config, cls):
            return config
        src = read_config(config, TrainError, not_found="train config {path} does not exist")
        if isinstance(src.data, dict) and isinstance(src.data.get("train"), dict) and len(src.data) == 1:
            src = src.sub("train")  # allow a file with a top-level `train:` section
        if not isinstance(src.data, dict):
            raise TrainError(f"{src.where(default='train config')}: expected a mapping of settings, got {type(src.data).__name__}")
        try:
            return cls.model_validate(src.data)
        except ValidationError as e:
            raise TrainError("; ".join(problems(e, src, default="train config", dotted_index=True))) from None

    @field_validator("report_to")
    @classmethod
    def _report_to(cls, v):
        targets = [v] if isinstance(v, str) else list(v)
        unknown = [t for t in targets if t not in REPORT_TARGETS]
        if unknown:
            raise ValueError(f"unknown report_to {unknown[0]!r}: use one of {', '.join(REPORT_TARGETS)}")
        return v

    def resolved(self) -> dict[str, Any]:
        """The settings that define a run (its id): a method's section only when it uses it, and no
        `method` key for sft, so SFT run ids are unchanged by the methods that came later."""
        from workbench.train.methods import METHODS

        out = self.model_dump(mode="json", by_alias=False)
        used = METHODS[self.method].section
        for section in ("dpo", "grpo"):
            if section != used:
                out.pop(section)
        if self.method == "sft":
            out.pop("method")
        if self.method == "grpo":  # GRPO's sampler repeats each prompt for its group, in TRL's own order
            del out["data_order"]
        if out["max_tokens"] is None:  # a token budget is named only where one is given
            del out["max_tokens"]
        if out["keep_adapters"] == 1:  # the default: left out so run ids stay as they were
            del out["keep_adapters"]
        if out["report_to"] in ("none", ["none"], []):  # logging only: left out so run ids stay as they were
            del out["report_to"]
        return out

    def with_method(self, method: str | None) -> "TrainConfig":
        """The same settings under another method (validated: e.g. grpo's batch rule)."""
        if method is None or method == self.method:
            return self
        try:
            return type(self).model_validate({**self.model_dump(by_alias=False), "method": method})
        except ValidationError as e:
            raise TrainError("; ".join(problems(e, ConfigSource(None), default="train config", dotted_index=True))) from None

    def trl_report_to(self, run_dir: "str | os.PathLike") -> list[str]:
        """TrainingArguments.report_to; TensorBoard writes under the run's folder (not its checkpoints,
        which are removed when the run finishes)."""
        targets = [t for t in ([self.report_to] if isinstance(self.report_to, str) else self.report_to) if t != "none"]
        if "wandb" in targets:
            os.environ.setdefault("WANDB_MODE", "offline")
        if "tensorboard" in targets:
            os.environ["TENSORBOARD_LOGGING_DIR"] = str(Path(run_dir) / "tensorboard")
        return targets
