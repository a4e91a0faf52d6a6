"""`workbench report NAME`: write reports/NAME/report.html and report.md; `--json` prints the comparisons."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from workbench.cli.common import DefaultGroup, console, print_json, workspace

app = typer.Typer(cls=DefaultGroup, help="Write an ablation's report (self-contained HTML and Markdown).")


@app.command("run")
def run(
    name: str = typer.Argument(..., help="The ablation's name."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default reports/NAME)."),
    as_json: bool = typer.Option(False, "--json", help="Print every comparison as JSON (writes no files)."),
    show_audit: bool = typer.Option(False, "--audit", help="Print the suite audit: signal, noise, their ratio and "
                                    "the minimum detectable difference per CPU minute per suite and metric "
                                    "(writes no files)."),
):
    """Scores with CIs, paired deltas, loss curves, data per variant, items where variants disagree.
    With --json: a list of comparisons (a, b, suite, metric, higher_is_better, delta, lo, hi, p,
    p_adjusted, significant, kind, n, mdd), B - A on the same items."""
    from workbench.report import report_data, write_report

    if show_audit:
        from workbench.cli.common import table
        from workbench.report.audit import AUDIT_COLUMNS, audit, audit_note, audit_rows, verdict_lines
        from workbench.report.gather import seed_items

        data = report_data(workspace(), name)
        rows = audit(data, seed_items(workspace(), name))
        if as_json:
            print_json([r.to_dict() for r in rows])
            return
        console.print(table(f"{name}: suite audit", AUDIT_COLUMNS, audit_rows(rows)))
        for line in [audit_note(data), *verdict_lines(rows)]:
            console.print(line, highlight=False, markup=False, soft_wrap=True)
        return
    if as_json:
        data = report_data(workspace(), name)  # strategy rows (kind "strategy") follow the comparisons
        print_json([c.to_dict() for c in data.comparisons] + [r.to_dict() for r in data.strategies]
                   + [r.to_dict() for r in data.credit])  # kind "shapley" / "mixture"
        return
    html_path, md_path = write_report(workspace(), name, out)
    console.print(f"wrote {html_path} and {md_path}")
