"""The report's plots (matplotlib, Agg): scores with CIs, deltas vs base, training loss; and
their conversion to inline SVG or base64 PNG for a self-contained HTML file."""

from __future__ import annotations

import math

import base64
import io

from workbench.ablate.tasks import BASE
from workbench.report.gather import ReportData, headline

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


def scores_figure(data: ReportData):
    """One panel per suite: headline metric per variant with its 95% CI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = headline(data)
    suites = [s for s in data.suites if any(r["suite"] == s for r in rows)]
    if not suites:
        return None
    fig, axes = plt.subplots(1, len(suites), figsize=(4.2 * len(suites), 0.5 * len(data.order()) + 1.6), squeeze=False)
    for ax, suite in zip(axes[0], suites):
        rs = [r for r in rows if r["suite"] == suite][::-1]
        y = list(range(len(rs)))
        colors = ["#888888" if r["variant"] == BASE else ("#2a7ab8" if not r["significant"] else "#d9622b") for r in rs]
        ax.errorbar([r["score"] for r in rs], y, xerr=[[max(0.0, r["score"] - r["lo"]) for r in rs], [max(0.0, r["hi"] - r["score"]) for r in rs]],
                    fmt="none", ecolor="#555555", capsize=3)
        ax.scatter([r["score"] for r in rs], y, c=colors, zorder=3)
        ax.set_yticks(y, [r["variant"] for r in rs])
        ax.set_title(f"{suite}\n{rs[0]['metric']}" if rs else suite, fontsize=9)
        ax.set_xlim(-0.02, 1.02) if all(0 <= r["lo"] and r["hi"] <= 1 for r in rs) else None
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle("score with 95% CI (orange: significantly different from base)", fontsize=10)
    fig.tight_layout()
    return fig


def deltas_figure(data: ReportData):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in headline(data) if r["delta"] is not None and math.isfinite(r["delta"])]
    if not rows:
        return None
    labels = [f"{r['variant']} · {r['suite']}" for r in rows][::-1]
    rows = rows[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(rows) + 1.2))
    y = list(range(len(rows)))
    ax.axvline(0, color="#999999", lw=1)
    def half(r, side):  # no bar where there is no interval (e.g. no item differs)
        edge = r["d_lo"] if side == "lo" else r["d_hi"]
        return abs(r["delta"] - edge) if edge is not None and math.isfinite(edge) else 0.0

    ax.errorbar([r["delta"] for r in rows], y, xerr=[[half(r, "lo") for r in rows], [half(r, "hi") for r in rows]],
                fmt="none", ecolor="#555555", capsize=3)
    ax.scatter([r["delta"] for r in rows], y, zorder=3,
               c=["#d9622b" if r["significant"] else "#2a7ab8" for r in rows])
    ax.set_yticks(y, labels)
    ax.set_xlabel(f"paired difference vs {data.baseline} (seed-aware 95% CI)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


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
