"""The report's comparisons, each a typed `ComparisonRow`; every number comes from
`workbench.evals.stats` (mean_ci for scores, compare_scores for paired differences).

A row compares B with A on the same items: delta = mean(B - A) with a paired bootstrap 95% CI,
McNemar's exact p for pass/fail metrics, and `significant` when the CI excludes 0. kind is
"variant" (a variant vs the base model, or between variants). p_adjusted stays None until
multiple-comparison adjustment is wired in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from workbench.evals import stats


@dataclass(frozen=True)
class ComparisonRow:
    a: str
    b: str
    suite: str
    metric: str
    higher_is_better: bool
    delta: float  # mean of b - a over the common items
    lo: float
    hi: float
    p: float | None  # McNemar exact, for pass/fail metrics
    p_adjusted: float | None
    significant: bool
    kind: str  # variant
    n: int  # common items
    mdd: float  # minimum detectable difference at this item count

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_comparison(cls, a: str, b: str, c: stats.Comparison, higher_is_better: bool = True,
                        kind: str = "variant") -> ComparisonRow:
        return cls(a, b, c.suite, c.metric, higher_is_better, c.delta, c.lo, c.hi, c.p_mcnemar, None,
                   c.significant, kind, c.n, c.mdd)


def directions(suites: list[str], layer: str) -> dict[tuple[str, str], bool]:
    """(suite, metric) -> higher_is_better, from each suite's `metric_list`; a metric a suite does
    not list (a per-item extra from process_results) counts as higher-is-better."""
    from workbench.evals.suites import discover

    found = discover()
    out: dict[tuple[str, str], bool] = {}
    for name in suites:
        suite = found.get(name)
        config = suite.configs.get(layer, {}) if suite is not None else {}
        for m in config.get("metric_list") or []:
            out[(name, m["metric"])] = bool(m.get("higher_is_better", True))
    return out


def comparison_rows(a: str, b: str, comps: list[stats.Comparison], direction: dict[tuple[str, str], bool],
                    kind: str = "variant") -> list[ComparisonRow]:
    return [ComparisonRow.from_comparison(a, b, c, direction.get((c.suite, c.metric), True), kind) for c in comps]


def score_row(variant: str, suite: str, metric: str, values: list[float]) -> dict:
    ci = stats.mean_ci(values)
    return {"variant": variant, "suite": suite, "metric": metric, "n": ci.n, "mean": ci.mean, "lo": ci.lo, "hi": ci.hi}


def compare_items(a: str, b: str, suite: str, layer: str, items_a: dict[str, dict], items_b: dict[str, dict],
                  metrics: list[str], direction: dict[tuple[str, str], bool]) -> list[ComparisonRow]:
    """B vs A on one suite, one row per metric in `metrics` order; items are {item_id: {"scores": {...}}}."""
    comps = stats.compare_scores(suite, layer, {k: d["scores"] for k, d in items_a.items()},
                                 {k: d["scores"] for k, d in items_b.items()})
    comps.sort(key=lambda c: metrics.index(c.metric))
    return comparison_rows(a, b, comps, direction)
