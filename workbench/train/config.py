"""Training settings (TrainConfig) and the error raised for bad training input."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

class TrainError(ValueError):
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

    @model_validator(mode="after")
    def _check(self):
        if self.target_modules is not None and not self.target_modules:
            raise ValueError("target_modules: give at least one module name, or leave it out to find them")
        return self

    @classmethod
    def load(cls, config: "TrainConfig | dict | str | os.PathLike | None") -> "TrainConfig":
        """From None (defaults), a dict, a YAML file path or a TrainConfig; errors name the key path."""
        if config is None:
            return cls()
        if isinstance(config, cls):
            return config
        where = "train config"
        if isinstance(config, (str, os.PathLike)):
            path = Path(config)
            if not path.exists():
                raise TrainError(f"train config {path} does not exist")
            where = str(path)
            try:
                config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as e:
                raise TrainError(f"{path}: not valid YAML: {e}") from None
            if isinstance(config, dict) and isinstance(config.get("train"), dict) and len(config) == 1:
                config = config["train"]  # allow a file with a top-level `train:` section
        if not isinstance(config, dict):
            raise TrainError(f"{where}: expected a mapping of settings, got {type(config).__name__}")
        try:
            return cls.model_validate(config)
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in e.errors()
            )
            raise TrainError(f"{where}: {problems}") from None

    def resolved(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=False)
