"""The report's numbers that are not decisions: per-variant scores with CIs and each variant's
seed-to-seed spread. Every comparison is a `workbench.evals.engine.Decision` (`ComparisonRow`
is its name in the report), made by `engine.decide`: the report holds no verdict logic.
"""

from __future__ import annotations

import math

from workbench.evals import stats
from workbench.evals.engine import (ADJUST, ALPHA, LIKELIHOOD_METRIC, Decision, SeedItems, headline_metrics,
                                    metric_scores, seed_variance)

ComparisonRow = Decision  # the report's rows are the engine's decisions

__all__ = ["ADJUST", "ALPHA", "LIKELIHOOD_METRIC", "ComparisonRow", "SeedItems", "headline_metrics", "metric_scores",
           "score_row", "seed_spread", "seed_variance"]


def score_row(variant: str, suite: str, metric: str, values: list[float]) -> dict:
    ci = stats.mean_ci(values)
    return {"variant": variant, "suite": suite, "metric": metric, "n": ci.n, "mean": ci.mean, "lo": ci.lo, "hi": ci.hi}


def seed_spread(variant: str, suite: str, metric: str, per_seed: SeedItems) -> dict | None:
    """Per-seed means of one variant and their standard deviation (None with fewer than 2 seeds)."""
    scores = metric_scores(per_seed, metric)
    if len(scores) < 2:
        return None
    means = {s: sum(v.values()) / len(v) for s, v in scores.items()}
    m = sum(means.values()) / len(means)
    sd = math.sqrt(sum((x - m) ** 2 for x in means.values()) / (len(means) - 1))
    return {"variant": variant, "suite": suite, "metric": metric, "seeds": means, "sd": sd}


def fmt_delta(r: dict) -> str:
    if r.get("delta") is None:
        return "(baseline)" if r["baseline"] else "-"
    if not (math.isfinite(r["d_lo"]) and math.isfinite(r["d_hi"])):
        return f"{r['delta']:+.3f} (no interval)"
    mark = " (significant)" if r["significant"] else ""
    return f"{r['delta']:+.3f} [{r['d_lo']:+.3f}, {r['d_hi']:+.3f}]{mark}"


def fmt_score(r: dict) -> str:
    return f"{r['score']:.3f} [{r['lo']:.3f}, {r['hi']:.3f}]"
