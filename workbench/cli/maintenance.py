"""`workbench gc [--apply]` and `workbench verify`: a workspace that checks itself."""

from __future__ import annotations

import typer

from workbench.cli.common import console, err_console, table, workspace


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def gc(apply: bool = typer.Option(False, "--apply", help="Remove what is listed (default: only list it).")):
    """List dataset bodies, adapters and checkpoints that no catalog row references; --apply removes them."""
    from workbench.maintenance import gc as do_gc

    ws = workspace()
    result = do_gc(ws, apply=apply)
    if result.skipped:
        rows = [[g.kind, str(g.path.relative_to(ws.home)), _mb(g.bytes), g.why] for g in result.skipped]
        console.print(table("skipped (a live writer may still reference them)", ["kind", "path", "size", "why"], rows))
        console.print(f"live writers: {'; '.join(result.writers)}")
    if not result.found:
        console.print("nothing to collect: every file is referenced by the catalog"
                      + (f" ({len(result.skipped)} skipped beside live writers)" if result.skipped else ""))
        return
    rows = [[g.kind, str(g.path.relative_to(ws.home)), _mb(g.bytes), g.why] for g in result.found]
    console.print(table("unreferenced" if not apply else "removed", ["kind", "path", "size", "why"], rows))
    total = _mb(sum(g.bytes for g in result.found))
    console.print(f"{len(result.found)} items, {total} " + ("removed" if apply else "(dry run: add --apply to remove them)"))


def verify():
    """Re-hash every dataset body and adapter against the catalog; exit 1 on any mismatch or missing file."""
    from workbench.maintenance import verify as do_verify

    report = do_verify(workspace())
    if report.ok:
        console.print(f"ok: {report.versions} dataset versions and {report.runs} finished runs match the catalog")
        return
    err_console.print(table("problems", ["kind", "version / run", "detail"],
                            [[p.kind, p.ref, p.detail] for p in report.problems]))
    err_console.print(f"[bold red]{len(report.problems)} problem(s)[/] in {report.versions} versions and {report.runs} runs")
    raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    root.command("gc")(gc)
    root.command("verify")(verify)
