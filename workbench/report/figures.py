"""The report's plots (matplotlib, Agg): scores with CIs, deltas vs base, training loss; and
their conversion to inline SVG or base64 PNG for a self-contained HTML file."""

from __future__ import annotations

import base64
import io
import math
import textwrap

from workbench.ablate.tasks import BASE
from workbench.report.gather import ReportData, headline
from workbench.report.stats import fmt_delta, fmt_score

def _fig_to_svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.find("<svg"):]


def _fig_to_png_b64(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


PAGE_WIDTH_IN = 11.0  # the report's 1100 px column at 100 px/in: a figure never wider than the page
PANELS_PER_ROW = 3
VERDICT_COLOURS = {"better": "#cdebd3", "worse": "#f6d0cc", "noise": "#eeeeee", "": "#ffffff"}
SIGNIFICANT = "✱"  # a glyph, not `*`: markdown reads a leading * as a bullet


def _wrap(label: str, width: int = 18) -> str:
    """Long variant names on several lines (never cut off)."""
    return "\n".join(textwrap.wrap(label, width, break_on_hyphens=True, break_long_words=True)) or label


def grid_cells(data: ReportData) -> tuple[list[str], list[str], dict[tuple[str, str], dict]]:
    """The leaderboard: variants (rows) x suites (columns, "suite (metric)"), each cell the score with
    its CI, the delta vs the baseline with its CI and the verdict (better | worse | noise | "")."""
    rows = headline(data)
    variants = [v for v in data.order() if any(r["variant"] == v for r in rows)]
    columns, cells = [], {}
    for r in rows:
        col = f"{r['suite']} ({r['metric']})"
        if col not in columns:
            columns.append(col)
        mark = f" {SIGNIFICANT}" if r["significant"] else ""
        cells[(r["variant"], col)] = {"score": fmt_score(r), "delta": fmt_delta(r).replace(" (significant)", "") + mark,
                                      "verdict": r["verdict"], "baseline": r["baseline"]}
    return variants, columns, cells


def grid_styler(data: ReportData):
    """The grid as a pandas Styler for the app: `score [CI] · Δ delta [CI]` (✱ when significant),
    each cell's background the verdict's colour."""
    import pandas as pd

    variants, columns, cells = grid_cells(data)
    frame = pd.DataFrame([{"variant": v, **{c: f"{x['score']} · Δ {x['delta']}" if (x := cells.get((v, c))) else ""
                                           for c in columns}} for v in variants])

    def paint(f):
        return pd.DataFrame([[f"background-color: {VERDICT_COLOURS[cells[(v, c)]['verdict']]}" if (v, c) in cells else ""
                              for c in f.columns] for v in f["variant"]], index=f.index, columns=f.columns)

    return frame.style.apply(paint, axis=None).hide(axis="index")


def grid_figure(data: ReportData):
    """The leaderboard grid as a figure: one coloured cell per variant and suite."""
    plt = _pyplot()
    variants, columns, cells = grid_cells(data)
    if not cells:
        return None
    width = min(PAGE_WIDTH_IN, 1.6 + 1.6 * len(columns))
    fig, ax = plt.subplots(figsize=(width, 0.42 * len(variants) + 0.9))
    ax.axis("off")
    text = [[f"{c['score']}\nΔ {c['delta']}" if (c := cells.get((v, col))) else "" for col in columns] for v in variants]
    colours = [[VERDICT_COLOURS[c["verdict"]] if (c := cells.get((v, col))) else "#ffffff" for col in columns] for v in variants]
    table = ax.table(cellText=text, cellColours=colours, rowLabels=[_wrap(v) for v in variants],
                     colLabels=["\n".join(textwrap.wrap(c, 22)) for c in columns], loc="center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(7 if len(columns) > 4 else 8)
    table.scale(1, 2.1)
    ax.set_title(f"score [95% CI], Δ vs {data.baseline} [95% CI] · green better, red worse, grey noise · "
                 f"{SIGNIFICANT} significant (Holm, past the A/A floor)", fontsize=8)
    fig.tight_layout()
    return fig


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def scores_figure(data: ReportData):
    """One panel per suite (wrapped, PANELS_PER_ROW a row): headline metric per variant with its 95% CI."""
    plt = _pyplot()
    rows = headline(data)
    suites = [s for s in data.suites if any(r["suite"] == s for r in rows)]
    if not suites:
        return None
    ncols = min(len(suites), PANELS_PER_ROW)
    nrows = math.ceil(len(suites) / ncols)
    n_variants = len(data.order())
    fig, axes = plt.subplots(nrows, ncols, figsize=(min(PAGE_WIDTH_IN, 3.7 * ncols), nrows * (0.3 * n_variants + 1.3)),
                             squeeze=False)
    for ax in axes.flat[len(suites):]:
        ax.axis("off")
    for i, (ax, suite) in enumerate(zip(axes.flat, suites)):
        rs = [r for r in rows if r["suite"] == suite][::-1]
        y = list(range(len(rs)))
        colors = ["#888888" if r["variant"] == BASE else ("#2a7ab8" if not r["significant"] else "#d9622b") for r in rs]
        ax.errorbar([r["score"] for r in rs], y, xerr=[[max(0.0, r["score"] - r["lo"]) for r in rs], [max(0.0, r["hi"] - r["score"]) for r in rs]],
                    fmt="none", ecolor="#555555", capsize=3)
        ax.scatter([r["score"] for r in rs], y, c=colors, zorder=3)
        ax.set_yticks(y, [_wrap(r["variant"]) for r in rs] if i % ncols == 0 else [""] * len(rs), fontsize=8)
        ax.set_title(f"{suite}\n{rs[0]['metric']}" if rs else suite, fontsize=9)
        ax.set_xlim(-0.02, 1.02) if all(0 <= r["lo"] and r["hi"] <= 1 for r in rs) else None
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"score with 95% CI (orange: significantly different from {data.baseline})", fontsize=10)
    fig.tight_layout()
    return fig


POINT_COLOURS = {"better": "#2e9d4a", "worse": "#c8372d", "noise": "#8a8a8a"}


def forest_figure(decisions, title: str = ""):
    """Every decision as a point and its 95% CI, coloured by the engine's verdict (green better in
    the metric's direction, red worse, grey noise); a lower-is-better metric is marked so."""
    plt = _pyplot()
    rows = [d for d in decisions if d.delta is not None and math.isfinite(d.delta)]
    if not rows:
        return None
    rows = rows[::-1]
    labels = [f"{d.b} · {d.suite} {d.metric}" + ("" if d.higher_is_better else " (lower better)") for d in rows]
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(rows) + 1.4))
    y = list(range(len(rows)))
    ax.axvline(0, color="#999999", lw=1)

    def half(d, side):  # no bar where there is no interval (e.g. no item differs)
        edge = d.lo if side == "lo" else d.hi
        return abs(d.delta - edge) if edge is not None and math.isfinite(edge) else 0.0

    ax.errorbar([d.delta for d in rows], y, xerr=[[half(d, "lo") for d in rows], [half(d, "hi") for d in rows]],
                fmt="none", ecolor="#555555", capsize=3)
    ax.scatter([d.delta for d in rows], y, zorder=3, c=[POINT_COLOURS.get(d.verdict, "#2a7ab8") for d in rows])
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel("paired difference B - A, seed-aware 95% CI")
    ax.set_title((title + "\n" if title else "") + "green: better in the metric's direction · red: worse · grey: noise",
                 fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def deltas_figure(data: ReportData):
    """Every headline decision against the baseline (bits per byte included), as a forest plot."""
    return forest_figure(data.against_baseline(), f"every headline decision vs {data.baseline}")


def loss_figure(data: ReportData):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in data.runs if r["loss"]]
    if not runs:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.4))
    for r in runs:
        ax.plot([p["step"] for p in r["loss"]], [p["loss"] for p in r["loss"]], label=f"{r['variant']} seed {r['seed']}")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig



def validation_figure(data: ReportData, alpha: float = 0.3):
    """Held-out eval loss (markers) beside the smoothed training loss (line), one colour per run
    and seed; None when no run recorded an eval loss (eval_fraction 0)."""
    from workbench.report.views import validation_curves

    rows = validation_curves(data, alpha)
    if not any(r["series"].startswith("eval") for r in rows):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.4))
    for i, run in enumerate(dict.fromkeys(r["run"] for r in rows)):
        color = f"C{i % 10}"
        for series, style in (("train (smoothed)", {"ls": "-"}), ("eval (held out)", {"ls": "--", "marker": "o"})):
            pts = [r for r in rows if r["run"] == run and r["series"] == series]
            if pts:
                ax.plot([p["step"] for p in pts], [p["loss"] for p in pts], color=color, label=f"{run} · {series}", **style)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(f"held-out loss beside training loss (EMA alpha {alpha})", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
