"""Checkpoint averaging (AI2, "Signal and Noise"): likelihood metrics scored at a run's last K
adapters and averaged per item, so a run's score depends less on its last few batches.

A run trained with `keep_adapters: K` (workbench.train.config) keeps the adapters of K-1 earlier
steps beside its final one, listed in its meta (`kept_adapters`). `evaluate(..., checkpoints=K)`
(default: all the run kept) scores every suite with the final adapter as usual, then only the
likelihood metrics at each earlier adapter: the reference's bits per byte of a generation suite
(teacher-forced on the same prompts), every metric of a likelihood-only suite (lm-eval
`loglikelihood` / `multiple_choice`, where all scores come from log-probabilities). Each item's
score is the mean over the K adapters; generation metrics stay the final adapter's. The adapters
are part of the result's cache key; without kept adapters nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.core import hashing
from workbench.core.errors import WorkbenchError


class CheckpointError(WorkbenchError, ValueError):
    """More checkpoints asked for than the run kept, or a kept adapter gone from disk."""


@dataclass(frozen=True)
class Checkpoint:
    step: int | None  # None: the run's final adapter
    adapter_dir: str


def run_checkpoints(run: dict, k: int | None) -> list[Checkpoint]:
    """The run's last k adapters, oldest first, the final one last (k None: all it kept)."""
    kept = [Checkpoint(int(a["step"]), str(a["dir"])) for a in (run.get("meta") or {}).get("kept_adapters") or []]
    final = Checkpoint(None, str(run["adapter_dir"]))
    k = len(kept) + 1 if k is None else k
    if k < 1:
        raise CheckpointError(f"--checkpoints {k}: give 1 (the final adapter) or more")
    if k - 1 > len(kept):
        raise CheckpointError(f"run {run['id']} kept {len(kept) + 1} adapter(s) (train config keep_adapters), "
                              f"fewer than the {k} checkpoints asked for; retrain with keep_adapters: {k}")
    chosen = kept[len(kept) - (k - 1):] if k > 1 else []
    missing = [c.adapter_dir for c in chosen if not (Path(c.adapter_dir) / "adapter_config.json").is_file()]
    if missing:
        raise CheckpointError(f"run {run['id']}: kept adapter {missing[0]} is missing; retrain the run")
    return [*chosen, final]


def checkpoint_settings(run: dict, base_key: str, chosen: list[Checkpoint]) -> dict:
    """What goes into an eval result's key for an average over `chosen` (the final adapter is in the
    model key already): the earlier adapters' content hashes, by step."""
    return {"k": len(chosen), "adapters": {str(c.step): hashing.adapter_identity(base_key, c.adapter_dir)
                                           for c in chosen if c.step is not None}}


def likelihood_metrics(samples: list[dict], likelihood_only: bool) -> list[str]:
    """The per-item metrics an average covers: every numeric one for a likelihood-only suite,
    else bits per byte alone."""
    from workbench.evals.likelihood import BPB

    names = {m for s in samples for m in s["scores"]}
    return sorted(names) if likelihood_only else [m for m in (BPB,) if m in names]


def average_samples(final: list[dict], others: list[list[dict]], metrics: list[str]) -> list[dict]:
    """The final adapter's samples with each of `metrics` replaced by its mean over all adapters
    (items matched by id; an item an earlier adapter did not score keeps the final value)."""
    by_id = [{s["item_id"]: s["scores"] for s in run} for run in others]
    out = []
    for s in final:
        scores = dict(s["scores"])
        for m in metrics:
            values = [scores[m]] + [o[s["item_id"]][m] for o in by_id if m in o.get(s["item_id"], {})]
            scores[m] = sum(values) / len(values)
        out.append({**s, "scores": scores})
    return out


def mean_metrics(agg: dict[str, float], samples: list[dict], metrics: list[str]) -> dict[str, float]:
    """The suite aggregate with the averaged metrics recomputed as means over items."""
    out = dict(agg)
    for m in metrics:
        values = [s["scores"][m] for s in samples if m in s["scores"]]
        if values:
            out[m] = sum(values) / len(values)
    return out
