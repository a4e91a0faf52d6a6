"""The `grpo:` section of a train config: TRL GRPOTrainer settings (used when the method is grpo);
`rewards` name workbench.train.rewards.

Kept apart from workbench.train.grpo, which imports TRL: reading a config must not."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from workbench.train.rewards import REWARDS


class GRPOSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rewards: list[str] = Field(default_factory=lambda: ["gsm_answer"], min_length=1)
    reward_weights: list[float] | None = None
    num_generations: int = Field(4, ge=2)  # completions per prompt (the group)
    max_completion_length: int = Field(128, gt=0)
    temperature: float = Field(1.0, gt=0)
    beta: float = Field(0.0, ge=0)  # KL weight; > 0 scores a reference: the base, or the `from:` run's adapter

    @model_validator(mode="after")
    def _check(self):
        unknown = [r for r in self.rewards if r not in REWARDS]
        if unknown:
            raise ValueError(f"unknown reward {', '.join(unknown)}; known: {', '.join(REWARDS)}")
        if self.reward_weights is not None and len(self.reward_weights) != len(self.rewards):
            raise ValueError(f"reward_weights has {len(self.reward_weights)} values for {len(self.rewards)} rewards")
        return self

    def check(self, cfg) -> None:
        """The rules between this section and the shared settings (TrainConfig calls it for a grpo config)."""
        if (cfg.batch_size * cfg.grad_accum) % self.num_generations:
            raise ValueError(f"grpo.num_generations: {self.num_generations} must divide batch_size x grad_accum "
                             f"({cfg.batch_size} x {cfg.grad_accum}): each batch holds whole groups")
        if cfg.eval_fraction and cfg.batch_size % self.num_generations:
            raise ValueError(f"grpo.num_generations: {self.num_generations} must divide batch_size "
                             f"({cfg.batch_size}) when eval_fraction > 0: an eval batch holds whole groups")

    def completion_tokens(self) -> int:
        """Tokens a sequence holds beyond its prompt (generated): memory planning adds them."""
        return self.max_completion_length
