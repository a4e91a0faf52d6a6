"""`workbench report NAME`: write reports/NAME/report.html and report.md."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from workbench.cli.common import DefaultGroup, console, workspace

app = typer.Typer(cls=DefaultGroup, help="Write an ablation's report (self-contained HTML and Markdown).")


@app.command("run")
def run(
    name: str = typer.Argument(..., help="The ablation's name."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default reports/NAME)."),
):
    """Scores with CIs, paired deltas, loss curves, data per variant, items where variants disagree."""
    from workbench.report import write_report

    html_path, md_path = write_report(workspace(), name, out)
    console.print(f"wrote {html_path} and {md_path}")
