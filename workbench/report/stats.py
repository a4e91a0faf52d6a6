"""The report's comparisons, each a typed `ComparisonRow`; every number comes from
`workbench.evals` (stats.mean_ci for scores; decide.seed_aware_diff for differences;
verdict for the multiplicity adjustment, the A/A noise floor and the words).

A row compares B with A on the items both scored: delta = mean(B) - mean(A), means over seeds
then items. Its interval counts item noise (paired) and training noise (the seed variance
pooled over every trained variant with 2+ seeds, the A/A control included). Headline metrics
(each suite's primary metric, plus bits per byte where the suite has a reference) form one
family: their p-values are Holm-adjusted together, and a difference is called only when it
clears that and the control's floor (`verdict.VERDICT_RULE`). Other metrics keep their
unadjusted p and no verdict. kind is "variant" (two variants, or a variant and the base model)
or "control" (two seeds of the A/A control's variant).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

from workbench.evals import stats
from workbench.evals.decide import SeedAwareDiff, SeedVariance, pooled_seed_variance, seed_aware_diff
from workbench.evals.verdict import adjust_pvalues, noise_floor, verdict_word

ALPHA = 0.05
ADJUST = "holm"
LIKELIHOOD_METRIC = "bits_per_byte"

# {seed label: {item_id: {metric: score}}}; the untrained base model has the one label "base"
SeedItems = Mapping[str, Mapping[str, Mapping[str, float]]]


@dataclass(frozen=True)
class ComparisonRow:
    a: str
    b: str
    suite: str
    metric: str
    higher_is_better: bool
    delta: float  # mean(B) - mean(A) over the common items (sign independent of direction)
    lo: float  # 95% CI (item + training noise); NaN when there is no spread (see `note`)
    hi: float
    p: float | None  # unadjusted, two-sided
    p_adjusted: float | None  # Holm over the headline family (None: not a headline metric)
    significant: bool  # headline: the verdict's call (adjusted p and the control floor); else p < alpha
    kind: str  # variant | control
    n: int  # common items
    mdd: float  # minimum detectable |difference| at this item and seed count (family-adjusted alpha)
    verdict: str = ""  # better | worse | noise for headline metrics, "" otherwise
    headline: bool = False
    n_seeds_a: int = 1
    n_seeds_b: int = 1
    training_noise: bool = True  # the interval includes seed-to-seed training noise
    floor: float | None = None  # the A/A control's noise floor that was applied
    note: str = ""  # e.g. "no item differs (30 items)"

    def to_dict(self) -> dict:
        """Plain JSON: a missing number (no interval, no p) is null, never NaN."""
        return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in asdict(self).items()}


def directions(suites: list[str], layer: str) -> dict[tuple[str, str], bool]:
    """(suite, metric) -> higher_is_better, from each suite's `metric_list`; a metric a suite does
    not list falls back to `workbench.evals.scoring.higher_is_better` (bits per byte: lower)."""
    from workbench.evals.suites import discover

    found = discover()
    out: dict[tuple[str, str], bool] = {}
    for name in suites:
        suite = found.get(name)
        config = suite.configs.get(layer, {}) if suite is not None else {}
        for m in config.get("metric_list") or []:
            out[(name, m["metric"])] = bool(m.get("higher_is_better", True))
    return out


def higher_is_better(direction: dict[tuple[str, str], bool], suite: str, metric: str) -> bool:
    from workbench.evals.scoring import higher_is_better as default

    return direction.get((suite, metric), default(metric))


def score_row(variant: str, suite: str, metric: str, values: list[float]) -> dict:
    ci = stats.mean_ci(values)
    return {"variant": variant, "suite": suite, "metric": metric, "n": ci.n, "mean": ci.mean, "lo": ci.lo, "hi": ci.hi}


def headline_metrics(primary: str | None, metrics: list[str]) -> list[str]:
    """The metrics a suite's verdict rests on: its primary metric, and bits per byte if scored."""
    out = [primary] if primary else []
    if LIKELIHOOD_METRIC in metrics and LIKELIHOOD_METRIC not in out:
        out.append(LIKELIHOOD_METRIC)
    return out


def metric_scores(per_seed: SeedItems, metric: str) -> dict[str, dict[str, float]]:
    """{seed: {item: score}} of one metric (items without it left out)."""
    out = {s: {i: sc[metric] for i, sc in items.items() if metric in sc} for s, items in per_seed.items()}
    return {s: items for s, items in out.items() if items}


def seed_variance(trained: Mapping[str, SeedItems], metric: str) -> SeedVariance:
    """Training noise of one seed's mean on this metric, pooled over the trained variants with 2+ seeds."""
    return pooled_seed_variance([metric_scores(v, metric) for v in trained.values()])


def seed_spread(variant: str, suite: str, metric: str, per_seed: SeedItems) -> dict | None:
    """Per-seed means of one variant and their standard deviation (None with fewer than 2 seeds)."""
    scores = metric_scores(per_seed, metric)
    if len(scores) < 2:
        return None
    means = {s: sum(v.values()) / len(v) for s, v in scores.items()}
    m = sum(means.values()) / len(means)
    sd = math.sqrt(sum((x - m) ** 2 for x in means.values()) / (len(means) - 1))
    return {"variant": variant, "suite": suite, "metric": metric, "seeds": means, "sd": sd}


def _row(a: str, b: str, suite: str, metric: str, d: SeedAwareDiff, kind: str) -> ComparisonRow:
    return ComparisonRow(a, b, suite, metric, d.higher_is_better, d.delta, d.lo, d.hi,
                         None if math.isnan(d.p) else d.p, None, d.significant, kind, d.n_items, d.mdd,
                         n_seeds_a=d.n_seeds_a, n_seeds_b=d.n_seeds_b, training_noise=d.training_noise_included,
                         note=d.reason)


def compare_suite(suite: str, metrics: list[str], headline: list[str], pairs: list[tuple[str, str]],
                  per_variant: Mapping[str, SeedItems], trained: set[str], direction: dict[tuple[str, str], bool],
                  control: tuple[str, list[str]] | None, family_size: int) -> tuple[list[ComparisonRow], list]:
    """Every pair on every metric of one suite, plus the A/A control's seed pairs on the headline
    metrics. Returns (rows, [(row index, control diffs)] for the headline rows to adjust later)."""
    rows: list[ComparisonRow] = []
    pending = []
    for metric in metrics:
        hib = higher_is_better(direction, suite, metric)
        var = seed_variance({v: per_variant[v] for v in trained if v in per_variant}, metric)
        ctrl_diffs: list[SeedAwareDiff] = []
        if control is not None and metric in headline and control[0] in per_variant:
            v, seeds = control
            scores = metric_scores(per_variant[v], metric)
            ref = seeds[0]
            for other in seeds[1:]:
                if ref in scores and other in scores:
                    d = seed_aware_diff({ref: scores[ref]}, {other: scores[other]}, higher_is_better=hib,
                                        seed_var=var, alpha=ALPHA)
                    ctrl_diffs.append(d)
                    rows.append(_row(f"{v} seed {ref}", f"{v} seed {other}", suite, metric, d, "control"))
        for a, b in pairs:
            sa, sb = metric_scores(per_variant[a], metric), metric_scores(per_variant[b], metric)
            if not sa or not sb:
                continue
            d = seed_aware_diff(sa, sb, higher_is_better=hib, seed_var=var, a_trained=a in trained,
                                b_trained=b in trained, alpha=ALPHA, family_size=family_size if metric in headline else 1)
            rows.append(_row(a, b, suite, metric, d, "variant"))
            if metric in headline:
                pending.append((len(rows) - 1, ctrl_diffs))
    return rows, pending


def adjust(rows: list[ComparisonRow], pending: list[tuple[int, list]]) -> list[ComparisonRow]:
    """Holm-adjust the headline family across suites, apply the control floor, set the verdicts;
    the control's own rows get the same adjustment within their family."""
    rows = list(rows)
    controls = dict(pending)
    idx = list(controls)
    for i, p_adj in zip(idx, adjust_pvalues([rows[i].p for i in idx], ADJUST)):
        r = rows[i]
        floor = noise_floor(controls[i])
        word = verdict_word(r.delta, p_adj, higher_is_better=r.higher_is_better, floor=floor, alpha=ALPHA)
        rows[i] = replace(r, p_adjusted=p_adj, significant=word != "noise", verdict=word, headline=True, floor=floor)
    ctrl = [i for i, r in enumerate(rows) if r.kind == "control"]
    for i, p_adj in zip(ctrl, adjust_pvalues([rows[i].p for i in ctrl], ADJUST)):
        r = rows[i]
        word = verdict_word(r.delta, p_adj, higher_is_better=r.higher_is_better, alpha=ALPHA)
        rows[i] = replace(r, p_adjusted=p_adj, significant=word != "noise", verdict=word, headline=True)
    return rows


def compare_two(a: str, b: str, suite: str, items_a: dict[str, dict], items_b: dict[str, dict],
                direction: dict[tuple[str, str], bool], primary: str | None = None,
                trained: set[str] = frozenset()) -> list[ComparisonRow]:
    """Two models or runs on one suite (`workbench compare`), {item_id: {metric: score}} each: one
    seed a side, so a trained side's training noise cannot be estimated and the row says so."""
    metrics = sorted({m for d in items_a.values() for m in d} & {m for d in items_b.values() for m in d})
    per = {a: {"0": items_a}, b: {"0": items_b}}
    head = headline_metrics(primary, metrics)
    rows, pending = compare_suite(suite, metrics, head, [(a, b)], per, set(trained), direction, None,
                                  max(len(head), 1))
    return adjust(rows, pending)
