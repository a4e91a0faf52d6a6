"""The report's strategy sections: for every variant a strategy generated, two comparisons side
by side, a verdict, and a sentence that reads them together.

- variant vs control (`controls.removal_vs_control`): the removal against its size-matched random
  controls, drawn anew per seed, with the seed variance pooled over every control of the
  strategy (over the paired differences when each control trained with one of its removal's
  seeds): did *these* rows matter, or would removing as many random rows do the same?
- variant vs source (`engine.pair_diff`, as every pair is decided): the variant against the data it
  removed rows from (or, for an injected defect, the clean data): is this version better?
- the draw A/A (`draw_check: true`): another random draw against the control trained with the same
  seed, by the same rule as a removal against its control, in a family of its own: "clean" when the
  engine calls it noise, i.e. which random rows went does not move the score by itself.

Both comparisons are decided by the one engine (`workbench.evals.engine.decide`): p-values
Holm-adjusted within each strategy and comparison kind (every variant x suite headline metric),
direction from the stored eval results. The verdict is helps / hurts / inconclusive on the control comparison (on the
source comparison for injected defects, which remove nothing). Variants sharing a version (a removal
that removed nothing) share its runs: report.gather.targets gives each of them the scores.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

from workbench.ablate.strategies import tags
from workbench.evals.controls import paired_control_variance, removal_vs_control
from workbench.evals.decide import common_seeds, pooled_seed_variance
from workbench.evals.engine import (ADJUST, ALPHA, Decision, Directions, Question, decide, metric_scores,
                                    pair_diff, seed_variance)
from workbench.evals.verdict import ADJUST_METHODS
from workbench.report import credit  # shapley credit and mixture search

RULE = (f"Verdict: helps / hurts when the variant-vs-control difference has a {ADJUST_METHODS[ADJUST]}-adjusted "
        f"p below {ALPHA} (adjusted within the strategy over variant x suite headline metric; injected defects and "
        "mixtures re-balanced to the same budget: the variant-vs-source difference); otherwise inconclusive. "
        "Control: as many rows removed at random from the same data, one draw per seed; its interval counts the "
        "draw as well as training noise.")


@dataclass(frozen=True)
class Side:
    """One comparison of a strategy row (B - A; `improvement` > 0 means B is better)."""

    delta: float
    lo: float
    hi: float
    se: float
    df: float
    p: float | None
    p_adjusted: float | None
    word: str  # better | worse | noise
    mdd: float
    n: int
    n_seeds_a: int
    n_seeds_b: int
    note: str = ""

    @classmethod
    def of(cls, d: Decision) -> "Side":
        return cls(d.delta, d.lo, d.hi, d.se, d.df, d.p, d.p_adjusted, d.verdict, d.mdd, d.n, d.n_seeds_a, d.n_seeds_b,
                   d.note)

    def text(self) -> str:
        if self.note.startswith("no item differs") or not math.isfinite(self.delta):
            return self.note or "no comparison"
        ci = f" [{self.lo:+.3f}, {self.hi:+.3f}]" if math.isfinite(self.lo) and math.isfinite(self.hi) else ""
        p = "" if self.p_adjusted is None else f", p_adj {self.p_adjusted:.2g}"
        return f"{self.delta:+.3f}{ci}{p} ({self.word})"


@dataclass(frozen=True)
class StrategyRow:
    strategy: str
    group: str
    variant: str
    role: str
    step: str | None
    param: str | None
    value: float | int | str | bool | None
    source: str | None  # leave_one_out: the record source left out
    compare_to: str | None
    controls: tuple[str, ...]
    rows_removed: int | None
    n_rows: int | None
    suite: str
    metric: str
    higher_is_better: bool
    vs_control: Side | None
    vs_source: Side | None
    verdict: str = "inconclusive"
    reading: str = ""
    kind: str = "strategy"
    rebalanced: bool = False  # leave_one_out mix: the same budget as compare_to (size-matched by construction)

    def to_dict(self) -> dict:
        def clean(x):
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, (list, tuple)):
                return [clean(v) for v in x]
            return None if isinstance(x, float) and not math.isfinite(x) else x

        return clean(asdict(self))


def _merged(controls: list[str], scores: Mapping, suite: str, metric: str) -> dict:
    out: dict = {}
    for c in controls:
        for seed, items in metric_scores(scores.get(c, {}).get(suite, {}), metric).items():
            out[f"{c}:{seed}"] = items
    return out


def _by_seed(controls: list[str], scores: Mapping, suite: str, metric: str) -> dict:
    """{seed: items} of a removal's controls, where each control trained with one seed of its own."""
    out: dict = {}
    for c in controls:
        per = metric_scores(scores.get(c, {}).get(suite, {}), metric)
        if len(per) != 1 or next(iter(per)) in out:
            return {}
        out.update(per)
    return out


def _control_pool(tagged: Mapping, group: str, scores: Mapping, suite: str, metric: str) -> tuple:
    """(seed variance, paired) of a strategy's removals against their controls: from the paired
    differences when every removal has 2+ controls on its own seeds (control s trained with seed s),
    else from the controls' own spread over seeds."""
    removals = [(n, u) for n, u in tagged.items() if u.group == group and u.controls and u.role != "draw_check"]
    pairs = [(metric_scores(scores.get(n, {}).get(suite, {}), metric), _by_seed(u.controls, scores, suite, metric))
             for n, u in removals]
    if pairs and all(len(c) >= 2 and set(c) <= set(r) for r, c in pairs):
        return paired_control_variance(pairs), True
    own = [_merged(u.controls, scores, suite, metric) for _, u in removals]
    return pooled_seed_variance([c for c in own if c]), False


def strategy_rows(spec: dict, variants: list[dict], per_seed: Mapping, headlines: Mapping[str, list[str]],
                  direction) -> list[StrategyRow]:
    """Every generated variant x suite headline metric, both comparisons, decided per strategy by the
    engine. `direction`: (suite, metric) -> higher_is_better (`engine.Directions`), or a
    {(suite, metric): higher_is_better} mapping."""
    tagged = tags(spec)
    if not tagged:
        return []
    direction = Directions.of(direction)
    scores = {v["name"]: per_seed.get(v["name"], {}) for v in variants}  # shared runs: report.gather.targets
    n_rows = {v["name"]: v["n_rows"] for v in variants}
    trained = {v: s for v, s in scores.items() if s}
    rows: list[StrategyRow] = []
    questions: list[Question] = []
    asked: list[tuple[int, str]] = []  # (row, side) of each question
    pools: dict[tuple, tuple] = {}  # (group, suite, metric) -> (control seed variance, paired)
    # a variant generated once for several roles (per_step: two steps' "left out one" is "the other alone")
    # gets a row per role: the same runs, each role's own label and comparison
    roles = []
    for name, u in tagged.items():
        roles += [(name, u)] + [(name, u.model_copy(update=a)) for a in u.also_as]
    for name, t in roles:
        if t.role in ("source", "control") or t.compare_to is None:
            continue
        for suite, metrics in headlines.items():
            for metric in metrics:
                hib = direction(suite, metric)
                mine = metric_scores(scores.get(name, {}).get(suite, {}), metric)
                src = metric_scores(scores.get(t.compare_to, {}).get(suite, {}), metric)
                if not mine:
                    continue
                if src and t.role != "draw_check":  # as the engine decides every pair: paired on 3+ common seeds
                    d = pair_diff(src, mine, common_seeds(src, mine), higher_is_better=hib,
                                  seed_var=lambda: seed_variance({v: s.get(suite, {}) for v, s in trained.items()},
                                                                 metric))
                    questions.append(Question(t.compare_to, name, suite, metric, d, "vs_source", (t.group, "vs_source")))
                    asked.append((len(rows), "vs_source"))
                ctrl = _merged(t.controls, scores, suite, metric)
                if ctrl:
                    if (t.group, suite, metric) not in pools:  # one pool per strategy and metric
                        pools[(t.group, suite, metric)] = _control_pool(tagged, t.group, scores, suite, metric)
                    pool, paired = pools[(t.group, suite, metric)]
                    d = removal_vs_control(mine, ctrl, higher_is_better=hib, seed_var=pool, alpha=ALPHA,
                                           paired=paired)
                    family = "draw_aa" if t.role == "draw_check" else "vs_control"  # A/A checks: their own family
                    questions.append(Question("control", name, suite, metric, d, "vs_control", (t.group, family)))
                    asked.append((len(rows), "vs_control"))
                removed = (n_rows[t.compare_to] - n_rows[name]
                           if n_rows.get(t.compare_to) is not None and n_rows.get(name) is not None else None)
                rows.append(StrategyRow(t.strategy, t.group, name, t.role, t.step, t.param, t.value, t.source,
                                        t.compare_to, tuple(t.controls), removed, n_rows.get(name), suite, metric, hib,
                                        None, None, rebalanced=t.mix is not None))
    for (i, side), d in zip(asked, decide(questions)):
        rows[i] = replace(rows[i], **{side: Side.of(d)})
    return [_verdict(r) for r in rows]


def _verdict(r: StrategyRow) -> StrategyRow:
    """helps / hurts / inconclusive from the engine's word on the control comparison (on the source
    comparison for injected defects and re-balanced mixtures)."""
    if r.role == "draw_check":
        word = "inconclusive" if r.vs_control is None else ("clean" if r.vs_control.word == "noise" else "not clean")
        return replace(r, verdict=word, reading=_reading_draw_check(replace(r, verdict=word)))
    basis = r.vs_control if r.vs_control is not None else (r.vs_source if r.role == "defect" or r.rebalanced
                                                             else None)
    word = {"better": "helps", "worse": "hurts"}.get(basis.word, "inconclusive") if basis else "inconclusive"
    return replace(r, verdict=word, reading=reading(replace(r, verdict=word)))


def _mdd(s: Side | None) -> str:
    return f"{s.mdd:.3f}" if s is not None and math.isfinite(s.mdd) else "unknown"


def reading(r: StrategyRow) -> str:
    """One sentence that reads the two comparisons together (a removal's starts with its step)."""
    text = _reading(r)
    return text if r.role == "defect" or r.rebalanced or r.rows_removed == 0 else f"{r.step or r.variant}: {text}"


def _reading(r: StrategyRow) -> str:
    c, s = r.vs_control, r.vs_source
    metric = f"{r.suite} {r.metric}"
    if r.rows_removed == 0 and r.role != "defect" and not r.rebalanced:
        return f"{r.variant} removes no rows here: it is the same data as {r.compare_to}, so there is nothing to tell."
    if r.role == "defect":
        if s is None:
            return f"{r.variant}: {r.compare_to} is not evaluated yet."
        if s.word == "worse":
            return (f"planting {r.param} into {r.value:.0%} of the rows costs {abs(s.delta):.3f} on {metric} "
                    f"(adjusted p {s.p_adjusted:.2g}).")
        if s.word == "better":
            return f"the data with {r.param} planted scored better on {metric} than the clean data: check the metric."
        return (f"no measurable cost of {r.param} at {r.value:.0%} on {metric} (smallest detectable difference "
                f"{_mdd(s)}).")
    if r.rebalanced:
        return _reading_rebalanced(r, metric)
    removes = f"removing these {r.rows_removed} rows" if r.rows_removed else "removing these rows"
    src = s.word if s is not None else "noise"
    if c is None:
        base = {"better": f"{r.variant} is better than {r.compare_to} on {metric}",
                "worse": f"{r.variant} is worse than {r.compare_to} on {metric}"}.get(
            src, f"no measurable difference from {r.compare_to} on {metric}")
        return base + "; without a random control, less data cannot be told apart from these rows."
    if r.verdict == "helps":
        return (f"{removes} helps on {metric} beyond removing as many random rows" +
                (", and the version beats its source." if src == "better" else
                 ", though the version is not measurably better than its source."))
    if r.verdict == "hurts":
        return (f"{removes} hurts on {metric} more than removing as many random rows: they carry signal" +
                (", and the version is worse than its source." if src == "worse" else "."))
    if src == "better":
        return (f"better than {r.compare_to} on {metric}, but not distinguishable from removing as many random rows: "
                "the gain may come from less data rather than from these rows.")
    if src == "worse":
        return (f"worse than {r.compare_to} on {metric}, but so is removing as many random rows: the loss may come "
                "from less data rather than from these rows.")
    return (f"no measurable effect on {metric} at this budget (smallest detectable difference vs control "
            f"{_mdd(c)}, vs source {_mdd(s)}).")


def _reading_draw_check(r: StrategyRow) -> str:
    """The draw A/A: two random removals of one size, trained with one seed, apart only in which rows went."""
    c, metric = r.vs_control, f"{r.suite} {r.metric}"
    if c is None:
        return f"draw A/A: {r.controls[0]} is not evaluated yet."
    what = (f"draw A/A: two random draws of {r.rows_removed} rows, both trained with {r.controls[0]}'s seed, differ "
            f"by {c.delta:+.4f} on {metric}")
    if r.verdict == "clean":
        return (f"{what}, within the noise (smallest detectable difference {_mdd(c)}): which random rows went "
                "does not decide a score at this budget, so the controls stand for less data.")
    return (f"{what} (adjusted p {c.p_adjusted:.2g}): which random rows went moves the score by itself. Read "
            "this strategy's control comparisons with care, and raise the budget or the seeds.")


def _reading_rebalanced(r: StrategyRow, metric: str) -> str:
    s = r.vs_source
    what = f"leaving {r.source} out of {r.compare_to} (the other sources fill the same budget)"
    if s is None:
        return f"{r.compare_to} is not evaluated yet."
    if s.word == "better":
        return f"{what} is better on {metric} (adjusted p {s.p_adjusted:.2g}): {r.source} costs the model here."
    if s.word == "worse":
        return f"{what} is worse on {metric} (adjusted p {s.p_adjusted:.2g}): {r.source} contributes."
    return f"no measurable contribution of {r.source} on {metric} (smallest detectable difference {_mdd(s)})."


COLUMNS = ["variant", "role", "step / param", "value", "rows removed", "suite", "metric", "vs control (B - control)",
           "vs source (B - source)", "verdict", "reading"]


def table_rows(rows: list[StrategyRow]) -> list[list]:
    return [[r.variant, r.role, " / ".join(x for x in (r.step, r.param) if x) or "",
             "" if r.value is None else r.value, "" if r.rows_removed is None else r.rows_removed, r.suite,
             r.metric + ("" if r.higher_is_better else " (lower better)"),
             r.vs_control.text() if r.vs_control else "no control", r.vs_source.text() if r.vs_source else "",
             r.verdict, r.reading] for r in rows]


def sections(data) -> list[tuple[str, str, list[str], list[list]]]:
    """One (title, note, columns, rows) per strategy, in the report's table format."""
    out = []
    rows = list(getattr(data, "strategies", []) or [])
    for group in dict.fromkeys(r.group for r in rows):
        mine = [r for r in rows if r.group == group]
        out.append((f"Strategy {group} ({mine[0].strategy})", RULE, COLUMNS, table_rows(mine)))
    return out + credit.sections(data)


def dose_figures(data) -> list[tuple[str, object]]:
    """(title, matplotlib figure) per sweep or injection: the difference from the source against
    the swept value or defect rate, with its seed-aware 95% CI (and the random control's, where
    there is one)."""
    rows = [r for r in (getattr(data, "strategies", []) or []) if r.strategy in ("sweep", "inject")
            and isinstance(r.value, (int, float)) and not isinstance(r.value, bool)]
    out = []
    for group in dict.fromkeys(r.group for r in rows):
        out.append((f"Dose-response: {group}", dose_figure([r for r in rows if r.group == group])))
    out += credit.figures(data)
    return [(t, f) for t, f in out if f is not None]


def dose_figure(rows: list[StrategyRow]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(dict.fromkeys((r.suite, r.metric) for r in rows))
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.4), squeeze=False)
    for ax, (suite, metric) in zip(axes[0], panels):
        for role, side, color in (("defect", "vs_source", "#d9622b"), ("value", "vs_source", "#2a7ab8"),
                                  ("value", "vs_control", "#888888"), ("caught", "vs_control", "#2a9a55")):
            pts = sorted(((r.value, getattr(r, side)) for r in rows if r.role == role and r.suite == suite
                          and r.metric == metric and getattr(r, side) is not None
                          and math.isfinite(getattr(r, side).delta)), key=lambda x: x[0])
            if not pts:
                continue
            xs, ds = [x for x, _ in pts], [d for _, d in pts]
            err = [[max(0.0, d.delta - d.lo) if math.isfinite(d.lo) else 0.0 for d in ds],
                   [max(0.0, d.hi - d.delta) if math.isfinite(d.hi) else 0.0 for d in ds]]
            ax.errorbar(xs, [d.delta for d in ds], yerr=err, fmt="o-", color=color, capsize=3,
                        label=f"{role} {side.replace('_', ' ')}")
        ax.axhline(0, color="#999999", lw=1)
        ax.set_xlabel(rows[0].param if rows[0].strategy == "sweep" else f"{rows[0].param} rate")
        hib = next(r.higher_is_better for r in rows if (r.suite, r.metric) == (suite, metric))
        ax.set_ylabel(f"difference ({'higher' if hib else 'lower'} is better)")
        ax.set_title(f"{suite}\n{metric}", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
