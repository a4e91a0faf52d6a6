"""`workbench doctor`: check the install and the workspace; a fix for each problem."""

from __future__ import annotations

import typer

from workbench.cli.common import console, table


def doctor():
    """Check torch and its device, the bundled models, NLTK punkt_tab, chromium, disk, memory and the workspace."""
    from workbench.ops.doctor import run_checks

    checks = run_checks()
    colour = {"ok": "green", "warn": "yellow", "FAIL": "red"}
    rows = [[f"[{colour[c.status]}]{c.status}[/]", c.name, c.detail, "" if c.ok else c.fix] for c in checks]
    console.print(table("workbench doctor", ["", "check", "found", "to fix"], rows))
    failed = [c for c in checks if c.status == "FAIL"]
    warned = [c for c in checks if c.status == "warn"]
    if failed:
        console.print(f"[red]{len(failed)} problem(s)[/] to fix before the quickstart"
                      + (f"; {len(warned)} optional" if warned else ""))
        raise typer.Exit(1)
    console.print("ready" + (f" ({len(warned)} optional item(s) missing: see above)" if warned else ""))


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
