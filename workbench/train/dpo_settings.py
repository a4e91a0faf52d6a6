"""The `dpo:` section of a train config: TRL DPOTrainer settings (used when the method is dpo).

Kept apart from workbench.train.dpo, which imports TRL: reading a config must not."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DPOSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    beta: float = Field(0.1, gt=0)  # how far the policy may move from the reference
    loss_type: str = "sigmoid"  # a DPOConfig loss_type: sigmoid, ipo, hinge, ...
    label_smoothing: float = Field(0.0, ge=0, lt=0.5)
