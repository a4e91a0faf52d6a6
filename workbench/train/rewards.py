"""GRPO rewards, taken from the suites' own scorers (workbench.evals.scoring), so a reward and
the eval that measures it never drift apart. One registry; a taken name is refused.

A reward reads fields of the prompt row (`needs`: what it must find in the record's meta or
mode) and the completion text, and returns a number, or None where the row lacks what it needs
(TRL then leaves that completion out of the reward's mean). Built in:

- `gsm_answer`: the GSM final-answer match (gsm_style's primary metric, `flexible_extract`)
  against the row's `answer` (`#### N` or a bare number);
- `think_format`: think_follow's /think or /no_think compliance for the row's reasoning mode;
- `ifeval`: the fraction of the row's IFEval instructions followed (`inst_level_strict_acc`),
  for rows carrying `instruction_id_list` and `kwargs`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench.core.registry import Registry, check_named


@dataclass(frozen=True)
class Reward:
    name: str
    needs: tuple[str, ...]  # row fields it reads (besides the completion)
    score: Callable[[dict, str], float]  # (row fields, completion text) -> reward


# built in below; installed packages add theirs in entry-point group `workbench.rewards` (a Reward)
REWARDS: Registry[Reward] = Registry("reward", "workbench.rewards", check_named(Reward, "reward"))


def register_reward(reward: Reward) -> Reward:
    REWARDS.register(reward.name, reward)
    return reward


def _gsm(row: dict, text: str) -> float:
    from workbench.evals.scoring import gsm_scores

    return gsm_scores({"answer": row["answer"]}, text)["flexible_extract"]


def _think(row: dict, text: str) -> float:
    from workbench.evals.scoring import think_scores

    return think_scores({"mode": row["mode"]}, text)["pass"]


def _ifeval(row: dict, text: str) -> float:
    from workbench.evals.scoring import ifeval_scores

    doc = {"prompt": row["prompt_text"], "instruction_id_list": json.loads(row["instruction_id_list"]),
           "kwargs": json.loads(row["kwargs"])}
    return ifeval_scores(doc, text)["inst_level_strict_acc"]


register_reward(Reward("gsm_answer", ("answer",), _gsm))
register_reward(Reward("think_format", ("mode",), _think))
register_reward(Reward("ifeval", ("instruction_id_list", "kwargs"), _ifeval))


def row_fields(record) -> dict[str, Any]:
    """The columns a prompt row carries for the rewards (text, so every row has one Arrow type;
    "" where the record has none)."""
    meta = record.meta
    has_if = meta.get("instruction_id_list") is not None and meta.get("kwargs") is not None
    return {
        "answer": "" if meta.get("answer") is None else str(meta["answer"]),
        "mode": record.reasoning_mode or "",
        "instruction_id_list": json.dumps(meta["instruction_id_list"]) if has_if else "",
        "kwargs": json.dumps(meta["kwargs"]) if has_if else "",
        "prompt_text": record.prompt(),
    }


def trl_reward(reward: Reward) -> Callable:
    """The reward as a TRL reward function: (prompts, completions, **columns) -> [float | None]."""

    def fn(prompts, completions, **columns):
        out = []
        for i, completion in enumerate(completions):
            text = completion[-1]["content"] if isinstance(completion, list) else str(completion)
            row = {k: columns[k][i] for k in (*reward.needs, "prompt_text") if k in columns}
            out.append(reward.score(row, text) if all(row.get(k) for k in reward.needs) else None)
        return out

    fn.__name__ = reward.name  # TRL logs rewards/<name>/mean under the function's name
    return fn
