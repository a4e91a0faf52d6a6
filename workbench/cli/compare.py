"""`workbench compare A B [--suite ...]`: paired statistics between two models or runs."""

from __future__ import annotations

from typing import Optional

import typer

from workbench.cli.common import DefaultGroup, console, print_json, table, workspace

app = typer.Typer(cls=DefaultGroup, help="Is B better than A on the same items, or is it noise?", no_args_is_help=True)


@app.command("run")
def run(
    a: str = typer.Argument(..., help="Baseline: run id, model name or model key (already evaluated)."),
    b: str = typer.Argument(..., help="Candidate: run id, model name or model key."),
    suite: Optional[str] = typer.Option(None, "--suite", "--suites", "-s", help="Comma-separated suites (default: all in common)."),
    layer: str = typer.Option("smoke", "--layer", "-l", help="smoke or core."),
    seed: int = typer.Option(0, help="Bootstrap seed (results are deterministic for a seed)."),
    as_json: bool = typer.Option(False, "--json", help="Print comparisons as JSON (as `workbench report NAME --json`)."),
):
    """Per suite and metric: A and B with 95% CIs, B - A with a paired bootstrap CI, McNemar p, and the
    minimum detectable difference. 'significant' only when the CI of B - A excludes 0."""
    from workbench.evals.stats import compare_runs, paired_items
    from workbench.report.stats import compare_two, directions

    ws = workspace()
    if as_json:  # the shape of `workbench report NAME --json`: Holm-adjusted over each suite's headline metrics
        from workbench.evals.runner import resolve_target
        from workbench.evals.suites import discover

        trained = {x for x in (a, b) if resolve_target(ws, x).adapter_dir}
        found, rows = discover(), []
        for s, items_a, items_b in paired_items(ws, a, b, suites=suite, layer=layer):
            primary = found[s].primary_metric if s in found else None
            rows += compare_two(a, b, s, items_a, items_b, directions([s], layer), primary, trained)
        print_json([r.to_dict() for r in rows])
        return
    comps = compare_runs(ws, a, b, suites=suite, layer=layer, seed=seed)
    rows = [[c.suite, c.metric, c.n, f"{c.mean_a:.3f} [{c.lo_a:.3f}, {c.hi_a:.3f}]",
             f"{c.mean_b:.3f} [{c.lo_b:.3f}, {c.hi_b:.3f}]", f"{c.delta:+.3f} [{c.lo:+.3f}, {c.hi:+.3f}]",
             "" if c.p_mcnemar is None else f"{c.p_mcnemar:.3g}", f"{c.mdd:.3f}",
             "[bold green]yes[/]" if c.significant and c.delta > 0 else "[bold red]yes[/]" if c.significant else "no"]
            for c in comps]
    console.print(table(f"{b} vs {a} [{layer}]", ["suite", "metric", "n", "A (95% CI)", "B (95% CI)", "B - A (95% CI)",
                                                   "McNemar p", "min detectable", "significant"], rows))
