"""The verdict in words: one sentence per variant against the baseline, the decision table, the
A/A control's rows (the noise floor) and each variant's seed-to-seed spread. Shared by the
HTML and Markdown reports and the Leaderboard page.
"""

from __future__ import annotations

import math

from workbench.evals.decide import METHOD_NOTE, TRAINING_NOISE_MISSING
from workbench.evals.verdict import rule_text
from workbench.data.card import ablations_using
from workbench.core.errors import WorkbenchError
from workbench.report.gather import ReportData, report_data
from workbench.report.stats import ADJUST, ALPHA, ComparisonRow


def _ci(c: ComparisonRow) -> str:
    if not (math.isfinite(c.lo) and math.isfinite(c.hi)):
        return c.note or "no interval"
    return f"[{c.lo:+.3f}, {c.hi:+.3f}]"


def fmt_row(c: ComparisonRow) -> str:
    """delta [CI] with its adjusted p, or the reason there is no interval."""
    if c.note.startswith("no item differs"):
        return c.note
    p = "" if c.p_adjusted is None else f", p_adj {c.p_adjusted:.2g}"
    return f"{c.delta:+.3f} {_ci(c)}{p}"


def _metric(c: ComparisonRow) -> str:
    return f"{c.suite} {c.metric}" + ("" if c.higher_is_better else " (lower is better)")


def sentence(data: ReportData, variant: str) -> str:
    """One sentence: where the variant is better or worse than the baseline (adjusted, past the
    seeds in the interval), where it is noise, and the smallest difference this design could detect."""
    rows = data.against_baseline(variant)
    if not rows:
        return f"{variant}: not compared with {data.baseline} yet (nothing evaluated on both)."
    better = [c for c in rows if c.verdict == "better"]
    worse = [c for c in rows if c.verdict == "worse"]
    noise = sorted({c.suite for c in rows if c.verdict == "noise"} - {c.suite for c in better + worse})
    parts = []
    if better:
        parts.append("better on " + "; ".join(f"{_metric(c)} {fmt_row(c)}" for c in better))
    if worse:
        parts.append("worse on " + "; ".join(f"{_metric(c)} {fmt_row(c)}" for c in worse))
    if noise:
        parts.append("noise on " + ", ".join(noise))
    mdd = [c for c in rows if math.isfinite(c.mdd)]
    n_items = max(c.n for c in rows)
    seeds = f"{rows[0].n_seeds_b} seed(s) vs {rows[0].n_seeds_a}"
    tail = (f" (smallest detectable difference at {n_items} items and {seeds}: "
            + ", ".join(f"{c.suite} {c.metric} {c.mdd:.3g}" for c in mdd) + ")") if mdd else ""
    if not all(c.training_noise for c in rows):
        tail += f"; {TRAINING_NOISE_MISSING}"
    return f"{variant} vs {data.baseline}: " + "; ".join(parts) + tail + "."


def sentences(data: ReportData) -> list[str]:
    out = [sentence(data, v["name"]) for v in data.variants if v["name"] != data.baseline]
    if data.controls:
        called = [c for c in data.controls if c.significant]
        out.append("A/A control (" + data.controls[0].a.rsplit(" seed ", 1)[0] + ", same data, other seed): "
                   + (f"{len(called)} of {len(data.controls)} comparisons called significant: the control is not "
                      "clean, so no verdict above should be trusted." if called else
                      f"clean, none of {len(data.controls)} comparisons significant."))
    else:
        out.append("No A/A control in this ablation: add `control: {variant: NAME, seeds: [0, 1]}` to measure the "
                   "training noise.")
    return out


def rule() -> str:
    return rule_text(ADJUST, ALPHA) + " Interval: " + METHOD_NOTE + "."


def decision_rows(data: ReportData) -> list[list]:
    return [[c.b, c.a, c.suite, c.metric + ("" if c.higher_is_better else " (lower better)"), c.n,
             f"{c.n_seeds_b}/{c.n_seeds_a}", f"{c.delta:+.3f}", _ci(c), _p(c.p), _p(c.p_adjusted),
             f"{c.mdd:.3f}", c.verdict]
            for c in data.against_baseline()]


DECISION_COLUMNS = ["variant", "baseline", "suite", "metric", "items", "seeds", "delta", "95% CI", "p", "p adj",
                    "MDE", "verdict"]


def control_rows(data: ReportData) -> list[list]:
    return [[c.b, c.a, c.suite, c.metric, c.n, f"{c.delta:+.3f}", _ci(c), _p(c.p), _p(c.p_adjusted),
             "significant" if c.significant else "clean"] for c in data.controls]


CONTROL_COLUMNS = ["B", "A", "suite", "metric", "items", "delta", "95% CI", "p", "p adj", "result"]


def spread_rows(data: ReportData) -> list[list]:
    return [[s["variant"], s["suite"], s["metric"], ", ".join(f"{k}: {v:.3f}" for k, v in s["seeds"].items()),
             f"{s['sd']:.4f}"] for s in data.seed_spread]


SPREAD_COLUMNS = ["variant", "suite", "metric", "per-seed means", "SD across seeds"]


def _p(p: float | None) -> str:
    return "" if p is None else f"{p:.3g}"


def version_verdicts(ws, version_ref: str) -> list[str]:
    """One line per ablation that trained on a dataset version: its verdict on that variant (the
    dataset card's last section, workbench.data.card)."""
    version_id = ws.catalog(reader=True).resolve_version(version_ref)["id"]
    lines = []
    for name, variant in ablations_using(ws, version_id):
        try:
            data = report_data(ws, name)
        except WorkbenchError as e:  # an ablation with nothing evaluated yet
            lines.append(f"- ablation `{name}`, variant `{variant}`: no verdict yet ({e})")
            continue
        said = sentence(data, variant) if variant != data.baseline else f"{variant} is the baseline of this ablation."
        lines.append(f"- ablation `{name}`, variant `{variant}`: {said}")
    return lines or ["- no ablation has trained on this version yet"]


def headline_decisions(ws, name: str) -> list:
    """The headline decisions of each variant of ablation `name` against its baseline (what
    `ablate --until-decided` looks at after each round)."""
    data = report_data(ws, name)
    return [c for v in data.variants for c in data.against_baseline(v["name"])]

