"""Training settings (TrainConfig) and the error raised for bad training input."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from workbench.config import problems, read_config
from workbench.errors import ConfigError


REPORT_TARGETS = ("none", "tensorboard", "mlflow", "wandb")


class TrainError(ConfigError):
    """Bad training input (config, data, model/template); raised before any step runs."""


class TrainConfig(BaseModel):
    """Training settings. Unknown keys are errors (a typo must not silently train defaults)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # LoRA
    r: int = Field(16, gt=0)
    alpha: float = Field(32, gt=0)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | None = None  # None: found from the model's linear layers
    # optimisation
    learning_rate: float = Field(2e-4, gt=0, alias="lr")
    epochs: float = Field(1.0, gt=0)
    max_steps: int = -1  # > 0 overrides epochs
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
    # runtime
    gradient_checkpointing: bool = False
    save_steps: int = Field(50, gt=0)
    logging_steps: int = Field(1, gt=0)
    sanity_prompts: int = Field(3, ge=0)
    sanity_max_new_tokens: int = Field(64, gt=0)
    # where TRL also sends the loss curves: none, or tensorboard / mlflow / wandb (offline: wandb
    # is put in offline mode unless WANDB_MODE says otherwise; mlflow writes ./mlruns by default)
    report_to: str | list[str] = "none"

    @model_validator(mode="after")
    def _check(self):
        if self.target_modules is not None and not self.target_modules:
            raise ValueError("target_modules: give at least one module name, or leave it out to find them")
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
        out = self.model_dump(mode="json", by_alias=False)
        if out["report_to"] in ("none", ["none"], []):  # logging only: left out so run ids stay as they were
            del out["report_to"]
        return out

    def trl_report_to(self, run_dir: "str | os.PathLike") -> list[str]:
        """TrainingArguments.report_to; TensorBoard writes under the run's folder (not its checkpoints,
        which are removed when the run finishes)."""
        targets = [t for t in ([self.report_to] if isinstance(self.report_to, str) else self.report_to) if t != "none"]
        if "wandb" in targets:
            os.environ.setdefault("WANDB_MODE", "offline")
        if "tensorboard" in targets:
            os.environ["TENSORBOARD_LOGGING_DIR"] = str(Path(run_dir) / "tensorboard")
        return targets
