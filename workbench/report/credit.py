"""The report's Shapley sections: each recipe step's share of the credit, with intervals, decided by the
one engine.

For a `shapley` strategy (workbench.ablate.strategies) every subset of the recipe's steps was
trained on the same seeds and evaluated on the same items. Each step's Shapley value, each pair's
Shapley interaction and the additivity gap ("the whole recipe vs the sum of the singles") is a
fixed linear combination of the subsets' scores (workbench.ablate.credit). Applied to the
per-seed, per-item scores it gives per-seed, per-item contrast values D[s, i]; the engine's
statistics then treat D as the difference B - A against zero:

- 2+ common seeds: `decide.paired_seed_diff`'s parts (item part + the seed-to-seed spread of D, which
  holds every subset's training noise with its weight), combined as a t with Welch-Satterthwaite df
  (`welch`): the engine's Behrens-Fisher interval covered a Shapley value's truth 97-99% of the time
  for a 95% interval in benchmarks/credit_worlds.py, this one 94-95%;
- one seed: `decide.seed_aware_diff`, with the ablation's pooled seed variance times the sum of the
  squared weights where some variant has 2+ seeds; otherwise item-only, and the row says so.

`decide` adjusts p-values (Holm) within each strategy: the step values together, the interactions
and additivity gap together. JSON rows have `kind: shapley` (kind of credit in `term`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

import numpy as np

from workbench.ablate.tasks import BASE
from workbench.ablate.credit import additivity_weights, contrast_scores, interaction_weights, shapley_weights
from workbench.evals.decide import min_detectable, paired_components, paired_seed_diff, seed_aware_diff
from workbench.evals.engine import ALPHA, Directions, Question, decide, metric_scores, seed_variance

NOTE = ("Shapley value of a step: its average marginal effect on the metric over every order of adding the recipe's "
        "steps (exact, from all 2^n subsets trained on the same seeds); the values add up to all steps vs none. "
        "Interaction of a pair: what the two do together beyond their separate effects (negative with "
        "higher-is-better: they overlap, e.g. remove the same rows). Intervals from the per-item, per-seed values "
        "of each combination (seed-aware; paired seeds: a Welch-Satterthwaite t, calibrated in "
        "benchmarks/credit_worlds.py); p Holm-adjusted within the strategy. "
        "Each subset also has fewer rows than the source: a step's credit includes the effect of less data.")


@dataclass(frozen=True)
class CreditRow:
    group: str
    term: str  # value | interaction | additivity
    step: str  # the step, "a x b", or "all vs singles"
    suite: str
    metric: str
    higher_is_better: bool
    value: float  # in metric units (sign independent of direction)
    lo: float
    hi: float
    se: float
    p: float | None
    p_adjusted: float | None
    word: str  # better | worse | noise (in the metric's direction)
    n: int
    n_seeds: int
    alone: float | None = None  # value: v({step}) - v(none)
    whole: float | None = None  # additivity: v(all) - v(none)
    note: str = ""
    reading: str = ""
    kind: str = "shapley"

    def to_dict(self) -> dict:
        return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in asdict(self).items()}

    def text(self) -> str:
        if not math.isfinite(self.value):
            return self.note or "no estimate"
        ci = f" [{self.lo:+.3f}, {self.hi:+.3f}]" if math.isfinite(self.lo) and math.isfinite(self.hi) else ""
        p = "" if self.p_adjusted is None else f", p_adj {self.p_adjusted:.2g}"
        return f"{self.value:+.4f}{ci}{p}"


def games(spec: Mapping) -> dict[str, tuple[list[str], dict[int, str]]]:
    """group -> (players, {subset mask: variant}) for each shapley strategy (roles shared with other
    strategies' variants included)."""
    from workbench.ablate.strategies import tags

    out: dict[str, tuple[list[str], dict[int, str]]] = {}
    for name, t in tags(spec).items():
        for u in [t] + [t.model_copy(update=a) for a in t.also_as]:
            if u.strategy != "shapley" or u.players is None:
                continue
            players, by_mask = out.setdefault(u.group, (list(u.players), {}))
            by_mask[sum(1 << players.index(s) for s in (u.subset or []))] = name
    return out


def welch(delta, item, item_df, seed, seed_df, alpha: float = ALPHA) -> tuple:
    """(lo, hi, p, df, se) of a contrast from its item and seed variance parts (scalars or arrays): a t with
    Welch-Satterthwaite df. The engine's Behrens-Fisher interval over-covers a Shapley contrast (98-99% for a
    95% interval where the two parts are alike, benchmarks/credit_worlds.py); this one covers 94-95% there."""
    from workbench.evals import dist

    item, seed = np.asarray(item, dtype=float), np.asarray(seed, dtype=float)
    var = item + seed
    with np.errstate(divide="ignore", invalid="ignore"):
        den = np.where(item > 0, item**2 / item_df, 0.0) + np.where(seed > 0, seed**2 / seed_df, 0.0)
        df = np.where(den > 0, var**2 / np.where(den > 0, den, 1.0), np.nan)
        se = np.sqrt(var)
        half = dist.t_ppf(1 - alpha / 2, df) * se
        p = 2 * dist.t_sf(np.abs(delta) / se, df)
    return delta - half, delta + half, p, df, se


def _contrast_diff(per_subset: list, w: np.ndarray, hib: bool, pool):
    d = contrast_scores(per_subset, w)
    if not d:
        return None
    zero = {s: {i: 0.0 for i in items} for s, items in d.items()}
    if len(d) >= 2:
        diff = paired_seed_diff(zero, d, higher_is_better=hib, alpha=ALPHA)
        if not diff.paired_seeds or not diff.se > 0:
            return diff
        seeds, items = sorted(d, key=str), sorted(next(iter(d.values())))
        m = np.array([[d[s][i] for i in items] for s in seeds])
        delta, *parts = paired_components(np.zeros_like(m), m)
        lo, hi, p, df, se = (float(x) for x in welch(float(delta), *parts))
        if not math.isfinite(lo):
            return diff
        return replace(diff, lo=lo, hi=hi, p=p, df=df, se=se, significant=p < ALPHA,
                       mdd=min_detectable(se, df, ALPHA), method=diff.method + "; Welch-Satterthwaite t")
    known = pool is not None and pool.known
    return seed_aware_diff(zero, d, higher_is_better=hib, seed_var=pool, a_trained=False, alpha=ALPHA,
                           seed_weight=float((w ** 2).sum()) if known else None)


def credit_rows(spec: Mapping, per_seed: Mapping, headlines: Mapping[str, list[str]], direction) -> list:
    """Shapley rows (`shapley_rows`), then mixture-search rows (workbench.report.mixture)."""
    from workbench.report.mixture import mixture_rows

    return shapley_rows(spec, per_seed, headlines, direction) + mixture_rows(spec, per_seed, headlines, direction)


def shapley_rows(spec: Mapping, per_seed: Mapping, headlines: Mapping[str, list[str]], direction) -> list[CreditRow]:
    """Every shapley strategy x suite headline metric: step values, pairwise interactions, additivity gap."""
    found = games(spec)
    if not found:
        return []
    direction = Directions.of(direction)
    trained = {v: s for v, s in per_seed.items() if v != BASE and s}
    questions, meta = [], []
    for group, (players, by_mask) in found.items():
        n = len(players)
        if len(by_mask) < 1 << n:
            continue
        terms = [("value", p, w) for p, w in zip(players, shapley_weights(n))]
        terms += [("interaction", f"{players[i]} x {players[j]}", w) for (i, j), w in interaction_weights(n).items()]
        terms.append(("additivity", "all vs singles", additivity_weights(n)))
        for suite, metrics in headlines.items():
            for metric in metrics:
                per_subset = [metric_scores(per_seed.get(by_mask[m], {}).get(suite, {}), metric) for m in range(1 << n)]
                if any(not s for s in per_subset):
                    continue
                hib = direction(suite, metric)
                pool = seed_variance({v: s.get(suite, {}) for v, s in trained.items()}, metric)
                means = [np.mean([np.mean(list(x.values())) for x in s.values()]) for s in per_subset]
                for term, step, w in terms:
                    diff = _contrast_diff(per_subset, w, hib, pool)
                    if diff is None:
                        continue
                    fam = (group, "value" if term == "value" else "interaction")
                    questions.append(Question("(none)", f"{group}:{step}", suite, metric, diff, "shapley", fam))
                    j = players.index(step) if term == "value" else None
                    meta.append((group, term, step, suite, metric, hib,
                                 float(means[1 << j] - means[0]) if j is not None else None,
                                 float(means[-1] - means[0]) if term == "additivity" else None))
    rows = []
    for (group, term, step, suite, metric, hib, alone, whole), d in zip(meta, decide(questions)):
        r = CreditRow(group, term, step, suite, metric, hib, d.delta, d.lo, d.hi, d.se, d.p, d.p_adjusted, d.verdict,
                      d.n, d.n_seeds_b, alone, whole, d.note)
        rows.append(CreditRow(**{**asdict(r), "reading": reading(r)}))
    return rows


def reading(r: CreditRow) -> str:
    metric = f"{r.suite} {r.metric}"
    better = "higher" if r.higher_is_better else "lower"
    if not math.isfinite(r.value):
        return f"{r.step}: {r.note or 'no estimate'}"
    called = {"better": "helps", "worse": "hurts"}.get(r.word)
    if r.term == "value":
        head = (f"{r.step} {called} on {metric}: credit {r.value:+.4f} ({better} is better)" if called else
                f"{r.step}: credit {r.value:+.4f} on {metric}, not distinguishable from 0")
        if r.alone is None:
            return head + "."
        gap = r.alone - r.value
        if abs(gap) <= max(1e-12, 0.25 * max(abs(r.alone), abs(r.value))):
            rel = "alone it moves the score about as much: its effect does not depend on the other steps"
        elif abs(r.value) < abs(r.alone):
            rel = (f"alone it moves the score by {r.alone:+.4f}, more than its credit in the full recipe: the other "
                   "steps do part of the same work (e.g. remove the same rows)")
        else:
            rel = (f"alone it moves the score by only {r.alone:+.4f}: it does more together with the other steps "
                   "than alone")
        return f"{head}; {rel}."
    if r.term == "interaction":
        what = {"better": "together they do better than their separate effects add up to",
                "worse": "together they do worse than their separate effects add up to (they overlap or conflict)"
                }.get(r.word, "no measurable interaction")
        return f"{r.step}: {what} on {metric} ({r.value:+.4f})."
    whole = f"the whole recipe moves {metric} by {r.whole:+.4f}" if r.whole is not None else "the whole recipe"
    return (f"{whole}, the singles' effects sum to {r.whole - r.value:+.4f}" if r.whole is not None else whole) + \
        (f": the gap {r.value:+.4f} is {'significant' if r.word in ('better', 'worse') else 'within noise'}.")


COLUMNS = ["term", "step / pair", "suite", "metric", "value [95% CI], p adj", "alone (v(step) - v(none))", "word",
           "seeds", "items", "reading"]


def sections(data) -> list[tuple[str, str, list[str], list[list]]]:
    """One (title, note, columns, rows) per shapley strategy, then per mixture search."""
    rows = [r for r in (getattr(data, "credit", None) or []) if isinstance(r, CreditRow)]
    out = []
    for group in dict.fromkeys(r.group for r in rows):
        mine = [r for r in rows if r.group == group]
        out.append((f"Shapley credit: {group}", NOTE, COLUMNS, [
            [r.term, r.step, r.suite, r.metric + ("" if r.higher_is_better else " (lower better)"), r.text(),
             "" if r.alone is None else f"{r.alone:+.4f}", r.word, r.n_seeds, r.n, r.reading] for r in mine]))
    from workbench.report import mixture

    return out + mixture.sections(getattr(data, "credit", None) or [])


def figures(data) -> list[tuple[str, object]]:
    """(title, figure) per shapley strategy (each step's value with its 95% CI, its effect alone beside it;
    the pairwise interaction matrix, significant pairs marked), then per mixture search and headline metric."""
    rows = [r for r in (getattr(data, "credit", None) or []) if isinstance(r, CreditRow) and r.term == "value"]
    from workbench.report import mixture

    every = [r for r in (getattr(data, "credit", None) or []) if isinstance(r, CreditRow)]
    out = []
    for g in dict.fromkeys(r.group for r in rows):
        out.append((f"Shapley values: {g}", shapley_figure([r for r in rows if r.group == g])))
        matrix = interaction_figure([r for r in every if r.group == g])
        if matrix is not None:
            out.append((f"Shapley interactions: {g}", matrix))
    return out + mixture.figures(getattr(data, "credit", None) or [])


def shapley_figure(rows: list[CreditRow]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(dict.fromkeys((r.suite, r.metric) for r in rows))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.4), squeeze=False)
    for ax, (suite, metric) in zip(axes[0], panels):
        mine = [r for r in rows if (r.suite, r.metric) == (suite, metric)]
        x = np.arange(len(mine))
        err = [[r.value - r.lo if math.isfinite(r.lo) else 0 for r in mine],
               [r.hi - r.value if math.isfinite(r.hi) else 0 for r in mine]]
        colours = [{"better": "#2a9a55", "worse": "#d9622b"}.get(r.word, "#2a7ab8") for r in mine]
        ax.bar(x, [r.value for r in mine], yerr=err, color=colours, capsize=4, width=0.55, label="Shapley value")
        ax.scatter(x + 0.33, [r.alone for r in mine], marker="D", color="#555555", zorder=3, s=18, label="alone")
        ax.axhline(0, color="#999999", lw=1)
        ax.set_xticks(x, [r.step for r in mine], rotation=20, fontsize=8)
        ax.set_ylabel(f"effect on metric ({'higher' if mine[0].higher_is_better else 'lower'} is better)")
        ax.set_title(f"{suite}\n{metric}", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def interaction_matrix(rows: list[CreditRow], suite: str, metric: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(steps, values, significant) of one strategy's pairwise interactions on one metric: symmetric
    (n, n) arrays, NaN on the diagonal and where no estimate."""
    mine = [r for r in rows if r.term == "interaction" and (r.suite, r.metric) == (suite, metric)]
    steps = list(dict.fromkeys(r.step for r in rows if r.term == "value" and (r.suite, r.metric) == (suite, metric)))
    vals, sig = np.full((len(steps), len(steps)), np.nan), np.zeros((len(steps), len(steps)), dtype=bool)
    for r in mine:
        a, b = r.step.split(" x ")
        if a in steps and b in steps:
            i, j = steps.index(a), steps.index(b)
            vals[i, j] = vals[j, i] = r.value
            sig[i, j] = sig[j, i] = r.word in ("better", "worse")
    return steps, vals, sig


def interaction_figure(rows: list[CreditRow]):
    """One heat map per headline metric: each pair's interaction, '*' where the engine calls it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(dict.fromkeys((r.suite, r.metric) for r in rows if r.term == "interaction"))
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.8), squeeze=False)
    for ax, (suite, metric) in zip(axes[0], panels):
        steps, vals, sig = interaction_matrix(rows, suite, metric)
        top = np.nanmax(np.abs(vals)) if np.isfinite(vals).any() else 1.0
        im = ax.imshow(vals, cmap="RdBu", vmin=-top, vmax=top)
        for i in range(len(steps)):
            for j in range(len(steps)):
                if np.isfinite(vals[i, j]):
                    ax.text(j, i, f"{vals[i, j]:+.3f}{' *' if sig[i, j] else ''}", ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(steps)), steps, rotation=20, fontsize=8)
        ax.set_yticks(range(len(steps)), steps, fontsize=8)
        ax.set_title(f"{suite} {metric}: interaction (* significant)", fontsize=9)
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig


def shapley_views(data) -> list[dict]:
    """The view's Shapley page, per strategy: {title, note, figure (values with intervals),
    interactions (the matrix figure), values and matrix rows (column -> text), reading}."""
    rows = [r for r in (getattr(data, "credit", None) or []) if isinstance(r, CreditRow)]
    out = []
    for group in dict.fromkeys(r.group for r in rows):
        mine = [r for r in rows if r.group == group]
        values = [r for r in mine if r.term == "value"]
        matrix = []
        for suite, metric in dict.fromkeys((r.suite, r.metric) for r in values):
            steps, vals, sig = interaction_matrix(mine, suite, metric)
            matrix += [{"suite": suite, "metric": metric, "step": a,
                        **{b: "" if not np.isfinite(vals[i, j]) else f"{vals[i, j]:+.4f}{' *' if sig[i, j] else ''}"
                           for j, b in enumerate(steps)}} for i, a in enumerate(steps)]
        out.append({"title": f"Shapley credit: {group}", "note": NOTE,
                    "figure": shapley_figure(values) if values else None, "interactions": interaction_figure(mine),
                    "values": [{"step": r.step, "suite": r.suite, "metric": r.metric,
                                "direction": "higher is better" if r.higher_is_better else "lower is better",
                                "value [95% CI], p adj": r.text(), "alone": "" if r.alone is None else f"{r.alone:+.4f}",
                                "verdict": r.word, "seeds": r.n_seeds, "items": r.n} for r in values],
                    "matrix": matrix, "readings": [r.reading for r in mine if r.term != "interaction" or r.word
                                                   in ("better", "worse")]})
    return out


def lead_comparison(data, evaluated: list[dict]) -> dict | None:
    """What the view's Compare page opens on: the most decisive headline decision against the baseline
    (`ReportData.against_baseline`: called ones first, then the smallest adjusted p, then the largest
    |delta| / se) whose two sides were evaluated: {a, b (evaluated targets; B's first seed), suite,
    metric, decision}."""
    def key(d):
        z = abs(d.delta) / d.se if d.se > 0 and math.isfinite(d.se) else 0.0
        return (not d.called, d.p_adjusted if d.p_adjusted is not None else 1.0, -z)

    for d in sorted(data.against_baseline(), key=key):
        a = next((t for t in evaluated if t["variant"] == d.a), None)
        b = next((t for t in evaluated if t["variant"] == d.b), None)
        if a and b and d.metric in (data.metrics.get(d.suite) or []):
            return {"a": a, "b": b, "suite": d.suite, "metric": d.metric, "decision": d}
    return None
