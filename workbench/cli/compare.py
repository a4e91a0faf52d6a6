"""`workbench compare A B [--suite ...] [--ablation NAME]`: is B better than A, or is it noise?

The table and `--json` are two views of the same `workbench.evals.engine.Decision`s."""

from __future__ import annotations

import math
from typing import Optional

import typer

from workbench.cli.common import DefaultGroup, console, print_json, table, workspace
from workbench.core.errors import WorkbenchError

app = typer.Typer(cls=DefaultGroup, help="Is B better than A on the same items, or is it noise?", no_args_is_help=True)

COLUMNS = ["suite", "metric", "items", "seeds B/A", "B - A [95% CI]", "p", "p adj", "MDE", "verdict"]


def _num(x, fmt: str) -> str:
    return "" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


def verdict_cell(d) -> str:
    """The verdict word, coloured by the engine: green better in the metric's direction, red worse."""
    if not d.headline:
        return "-"
    return f"[bold {d.colour}]{d.verdict}[/]" if d.colour else d.verdict


def table_rows(decisions) -> list[list[str]]:
    """The compare table: one row per decision, nothing computed here but the formatting."""
    rows = []
    for d in decisions:
        ci = f" [{d.lo:+.3f}, {d.hi:+.3f}]" if math.isfinite(d.lo) and math.isfinite(d.hi) else f" ({d.note or 'no interval'})"
        rows.append([d.suite, d.metric + ("" if d.higher_is_better else " (lower is better)"), str(d.n),
                     f"{d.n_seeds_b}/{d.n_seeds_a}", f"{d.delta:+.3f}{ci}", _num(d.p, ".3g"), _num(d.p_adjusted, ".3g"),
                     _num(d.mdd, ".3f"), verdict_cell(d)])
    return rows


def ablation_pair(ws, ablation: str, a: str, b: str, suites: list[str] | None):
    """The decisions of variants A and B exactly as the ablation's report made them."""
    from workbench.evals.engine import between
    from workbench.report import report_data

    data = report_data(ws, ablation)
    known = data.order()
    for name in (a, b):
        if name not in known:
            raise WorkbenchError(f"{name!r} is not a variant of ablation {ablation!r}; its variants: {', '.join(known)}")
    return between(data.comparisons, a, b, suites)


@app.command("run")
def run(
    a: str = typer.Argument(..., help="Baseline: run id, model name or model key (already evaluated); with "
                                      "--ablation, a variant name (or base)."),
    b: str = typer.Argument(..., help="Candidate: run id, model name or model key; with --ablation, a variant name."),
    suite: Optional[str] = typer.Option(None, "--suite", "--suites", "-s", help="Comma-separated suites (default: all in common)."),
    layer: str = typer.Option("smoke", "--layer", "-l", help="smoke or core."),
    ablation: Optional[str] = typer.Option(None, "--ablation", "-a", help="Compare two variants of this ablation, "
                                           "decided as its report decides them (all seeds, its A/A control)."),
    as_json: bool = typer.Option(False, "--json", help="Print the decisions as JSON (the rows of `workbench report NAME --json`)."),
):
    """Per suite and metric: B - A on the same items with a seed-aware 95% CI, p and Holm-adjusted p
    over the headline metrics (each suite's primary metric and bits per byte), the minimum detectable
    difference and the verdict: better (green) or worse (red) in the metric's direction, else noise."""
    from workbench.evals.engine import compare_targets

    ws = workspace()
    suites = [s.strip() for s in suite.split(",") if s.strip()] if suite else None
    decisions = (ablation_pair(ws, ablation, a, b, suites) if ablation
                 else compare_targets(ws, a, b, suites=suites, layer=layer))
    if as_json:
        print_json([d.to_dict() for d in decisions])
        return
    where = f"ablation {ablation}" if ablation else layer
    console.print(table(f"{b} vs {a} [{where}]", COLUMNS, table_rows(decisions)))
    console.print("verdict on headline metrics only (Holm-adjusted p below 0.05, seeds in the interval, "
                  "in the metric's direction); '-': not a headline metric, unadjusted p only.")
