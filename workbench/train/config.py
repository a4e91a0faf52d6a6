"""Training settings (TrainConfig) and the error raised for bad training input.

The shared settings are fields here; each training method owns its own section, named after it
(`dpo:`, `grpo:`, a plug-in's), validated by the model the method declares
(workbench.train.methods.Method.config). No method is named in this module."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_serializer,
                      model_validator)

from workbench.core.config import ConfigSource, problems, read_config
from workbench.train.errors import TrainError
from workbench.train.methods import METHODS

__all__ = ["DEFAULT_METHOD", "REPORT_TARGETS", "TrainConfig", "TrainError"]


REPORT_TARGETS = ("none", "tensorboard", "mlflow", "wandb")
DEFAULT_METHOD = "sft"  # named in no run id: runs from before other methods existed keep theirs


class TrainConfig(BaseModel):
    """Training settings. Unknown keys are errors (a typo must not silently train defaults)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    method: str = DEFAULT_METHOD  # a workbench.train.methods name: sft | dpo | grpo | a plug-in's
    # each method's own section (its settings model), by method name: the one it trains with is always
    # there (defaults filled in); the others only where given (kept for `with_method`)
    _sections: dict[str, BaseModel] = PrivateAttr(default_factory=dict)
    # LoRA
    r: int = Field(16, gt=0)
    alpha: float = Field(32, gt=0)
    # LoRA dropout: 0 by default. On CPU a dropout of 0.05 cost 1.23x the step time and 18% more peak
    # memory (a mask per adapted projection; benchmarks/README.md, "Training: the LM head and LoRA
    # dropout"), and runs of a few dozen steps have nothing for it to regularise.
    dropout: float = Field(0.0, ge=0, lt=1)
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
    # compute precision: "auto" trains in bf16 on a CUDA card that has it and in fp32 elsewhere;
    # "bf16" also autocasts to bf16 on CPU (the LoRA weights and optimizer stay fp32). benchmarks/
    # train.py measures its speed: 0.10x fp32 on a CPU without native bf16 (benchmarks/README.md)
    precision: Literal["auto", "bf16"] = "auto"
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

    @model_validator(mode="wrap")
    @classmethod
    def _method_sections(cls, data: Any, handler):
        """The keys named after a method with settings are its section, validated by its model
        (errors keep the key path: `dpo.beta`); the rest are the shared settings."""
        sections: dict[str, BaseModel] = {}
        if isinstance(data, dict):
            data = dict(data)
            for name in [k for k in data if k in METHODS and METHODS[k].config is not None]:
                raw = data.pop(name)
                try:
                    sections[name] = METHODS[name].settings_model().model_validate(raw if raw is not None else {})
                except ValidationError as e:
                    raise ValidationError.from_exception_data(cls.__name__, [
                        {"type": err["type"], "loc": (name, *err["loc"]), "input": err["input"],
                         **({"ctx": err["ctx"]} if "ctx" in err else {})} for err in e.errors()]) from None
        self = handler(data)
        if isinstance(data, dict):
            model = METHODS[self.method].settings_model()
            if model is not None and self.method not in sections:
                sections[self.method] = model()
            self._sections = sections
            own = sections.get(self.method)
            if own is not None and hasattr(own, "check"):
                try:
                    own.check(self)
                except ValueError as e:
                    raise ValidationError.from_exception_data(cls.__name__, [
                        {"type": "value_error", "loc": (), "input": data, "ctx": {"error": e}}]) from None
        return self

    @model_serializer(mode="wrap")
    def _dump_sections(self, handler):
        out = handler(self)
        for name, settings in self._sections.items():
            out[name] = settings.model_dump(mode="json")
        return out

    def settings(self, method: str | None = None) -> BaseModel | None:
        """A method's section (default: the one this config trains with); None for a method without settings."""
        method = method or self.method
        if method in self._sections:
            return self._sections[method]
        model = METHODS[method].settings_model() if method in METHODS else None
        return model() if model is not None else None

    def completion_tokens(self) -> int:
        """Tokens a training sequence holds beyond its prompt and answer (a method that generates)."""
        own = self.settings()
        return own.completion_tokens() if own is not None and hasattr(own, "completion_tokens") else 0

    @model_validator(mode="after")
    def _check(self):
        if self.target_modules is not None and not self.target_modules:
            raise ValueError("target_modules: give at least one module name, or leave it out to find them")
        if self.max_steps > 0 and self.max_tokens:
            raise ValueError(f"max_tokens: give one budget, max_steps ({self.max_steps}) or max_tokens ({self.max_tokens})")
        if self.method not in METHODS:
            raise ValueError(f"method: unknown training method {self.method!r}; known: {', '.join(METHODS)}")
        if self.keep_adapters > 1 and not METHODS[self.method].token_budget:
            raise ValueError(f"keep_adapters: checkpoint averaging keeps sft adapters; give {self.method} 1")
        if self.max_tokens and not METHODS[self.method].token_budget:
            raise ValueError(f"max_tokens: a token budget is counted on sft rows; give {self.method} max_steps or epochs")
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
        out = self.model_dump(mode="json", by_alias=False)
        for name in self._sections:
            if name != self.method:
                out.pop(name)
        if self.method == DEFAULT_METHOD:
            out.pop("method")
        if not METHODS[self.method].keyed_order:  # e.g. GRPO's sampler repeats each prompt for its group, in TRL's order
            del out["data_order"]
        if out["max_tokens"] is None:  # a token budget is named only where one is given
            del out["max_tokens"]
        if out["keep_adapters"] == 1:  # the default: left out so run ids stay as they were
            del out["keep_adapters"]
        if out["precision"] == "auto":  # the default: left out so run ids stay as they were
            del out["precision"]
        if out["report_to"] in ("none", ["none"], []):  # logging only: left out so run ids stay as they were
            del out["report_to"]
        return out

    def bf16(self, mode: str, cuda: bool, cuda_bf16: bool) -> bool:
        """TrainingArguments.bf16: on a CUDA card with bf16 unless the mode is lora-fp32; on CPU only
        when `precision: bf16` asks for autocast."""
        if cuda:
            return cuda_bf16 and mode != "lora-fp32"
        return self.precision == "bf16"

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
