"""GRPO on a prompt-only version: TRL's GRPOTrainer with LoRA and verifiable rewards.

The rewards are named in the config (`grpo.rewards`) and are the suites' own scorers
(workbench.train.rewards), reading what each prompt row carries: `answer` for gsm_answer, the
reasoning mode for think_format, `instruction_id_list` + `kwargs` for ifeval. A reward none of
the rows can be scored by is refused before training. Per-reward means per step are stored
beside the loss (`run_steps.metrics`, e.g. `rewards/gsm_answer/mean`).

With `grpo.beta > 0` the KL term needs a reference. On a new LoRA it is the base with the
adapter disabled; started from another run (`from: sft`), TRL copies that run's adapter as a
frozen "ref" adapter, so the policy is held near the SFT model, not the base.
"""

from __future__ import annotations

from workbench.data.records import Record
from workbench.train.config import TrainConfig, TrainError
from workbench.train.fitting import MetricRecorder, datasets_of, drop_printer, policy, run, split_rows, trainer_settings
from workbench.train.methods import FitArgs
from workbench.train.render import Prepared, conversation
from workbench.train.rewards import REWARDS, row_fields, trl_reward

NEEDS_HINT = {"answer": "an `answer` (meta.answer)", "mode": "a reasoning mode (/think or /no_think)",
              "instruction_id_list": "`instruction_id_list` and `kwargs`", "kwargs": "`kwargs`"}


def prepare_prompts(records: list[Record], tokenizer, cfg: TrainConfig, seed: int) -> Prepared:
    rows = [{"prompt": conversation(rec), **row_fields(rec), "record_id": rec.id} for rec in records]
    scored = {}
    for name in cfg.settings().rewards:
        needs = REWARDS[name].needs
        scored[name] = sum(all(row[k] for k in needs) for row in rows)
        if not scored[name]:
            raise TrainError(f"grpo.rewards: {name} needs {NEEDS_HINT[needs[0]]} on the prompt rows, and none of the "
                             f"{len(rows)} records has it; choose another reward or add the field at ingest")
    stats = {"records": len(records), "rows_scored_by": scored}
    return split_rows(rows, records, cfg, seed, stats)


def fit_grpo(a: FitArgs):
    from trl import GRPOConfig, GRPOTrainer

    model, lora = policy(a)
    g = a.cfg.settings()  # the `grpo:` section (workbench.train.grpo_settings)
    args = GRPOConfig(**trainer_settings(a), num_generations=g.num_generations, max_completion_length=g.max_completion_length,
                      temperature=g.temperature, beta=g.beta, reward_weights=g.reward_weights, log_completions=False)
    train_ds, eval_ds = datasets_of(a.data)
    recorder = MetricRecorder(a.ws.catalog(), a.run_id, a.progress)
    trainer = GRPOTrainer(model=model, reward_funcs=[trl_reward(REWARDS[r]) for r in g.rewards], args=args,
                          train_dataset=train_ds, eval_dataset=eval_ds, processing_class=a.tokenizer,
                          peft_config=lora, callbacks=[recorder])
    drop_printer(trainer)
    return run(a, trainer, recorder, {"method": "grpo", "rewards": list(g.rewards)})
