"""`workbench gc [--apply]`, `workbench verify`, `workbench backup` and `restore`: a workspace that checks itself."""

from __future__ import annotations

from pathlib import Path

import typer

from workbench.cli.common import console, err_console, print_json, table, workspace


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def gc(apply: bool = typer.Option(False, "--apply", help="Remove what is listed (default: only list it).")):
    """List dataset bodies, adapters and checkpoints that no catalog row references; --apply removes them."""
    from workbench.ops.maintenance import gc as do_gc

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


def verify(
    repair: bool = typer.Option(False, "--repair", help="Rebuild what content still on disk allows (bodies from a "
                                "copy, their lineage or their source; adapters from a backup), move damaged files "
                                "aside, mark runs with a lost adapter for retraining, remove dead temp files."),
    sources: list[Path] = typer.Option([], "--from", help="With --repair: a backup folder (`workbench backup DIR "
                                       "--with-data`) to copy lost bodies and adapters from; repeatable."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings (and repairs) as JSON."),
):
    """Re-hash every dataset body and adapter against the catalog; exit 1 on any mismatch or missing file."""
    from workbench.ops.maintenance import verify as do_verify

    ws = workspace()
    if sources and not repair:
        raise typer.BadParameter("--from is for --repair", param_hint="--from")
    if repair:
        from workbench.ops.repair import repair as do_repair

        result = do_repair(ws, sources)
        report = result.after
        if as_json:
            print_json(result.to_dict())
        else:
            _print_repair(result)
    else:
        report = do_verify(ws)
        if as_json:
            from workbench.ops.repair import RepairReport

            print_json(RepairReport(after=report).to_dict()["verify"])
    if not as_json:
        _print_verify(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_repair(result) -> None:
    if result.done:
        console.print(table("repaired", ["what", "version / run", "detail"], [[d.kind, d.ref, d.detail] for d in result.done]))
    else:
        console.print("repair: nothing to repair from what is on disk")
    if result.needs:
        console.print(table("needs you", ["what", "version / run", "detail", "run this"],
                            [[n.kind, n.ref, n.detail, n.command] for n in result.needs]))


def _print_verify(report) -> None:
    for p in report.lost:
        console.print(f"[yellow]run {p.ref}[/]: {p.detail}")
    if report.ok:
        console.print(f"ok: {report.versions} dataset versions and {report.runs} finished runs match the catalog"
                      + (f"; {len(report.lost)} run(s) to train again (above)" if report.lost else ""))
        return
    err_console.print(table("problems", ["kind", "version / run", "detail"],
                            [[p.kind, p.ref, p.detail] for p in report.problems]))
    err_console.print(f"[bold red]{len(report.problems)} problem(s)[/] in {report.versions} versions and {report.runs} "
                      "runs; `workbench verify --repair` repairs what content on disk allows")


def backup(
    folder: Path = typer.Argument(..., help="Folder for the backup (created; outside $WORKBENCH_HOME)."),
    with_data: bool = typer.Option(False, "--with-data", help="Also copy dataset bodies and finished runs' adapters "
                                   "(default: the backup refers to the workspace's files)."),
):
    """Copy the catalog, consistently, while other commands read and write it; --with-data copies what it points at."""
    from workbench.ops.backup import backup as do_backup

    result = do_backup(workspace(), folder, with_data=with_data)
    rows = sum(n for t, n in result.tables.items() if t != "schema_migrations")
    console.print(f"backed up the catalog (schema {result.schema_version}, {len(result.tables)} tables, {rows} rows) "
                  f"to {result.folder}")
    if with_data:
        console.print(f"copied {result.bodies} new dataset bodies and {result.runs} runs")
    else:
        console.print("dataset bodies and adapters by reference (add --with-data to copy them)")


def restore(
    folder: Path = typer.Argument(..., help="A folder written by `workbench backup`."),
    force: bool = typer.Option(False, "--force", help="Replace a catalog that has rows (it is kept beside it)."),
):
    """Make a backup this workspace's catalog (and copy its data, if it has any), then verify it."""
    from workbench.ops.backup import restore as do_restore
    from workbench.ops.maintenance import verify as do_verify

    ws = workspace()
    result = do_restore(ws, folder, force=force)
    console.print(f"restored {result.tables.get('versions', 0)} dataset versions and {result.tables.get('runs', 0)} runs "
                  f"from {result.folder} into {ws.home}")
    if result.kept_old:
        console.print(f"the replaced catalog is kept as {result.kept_old}")
    if result.by_reference:
        console.print(f"dataset bodies and adapters are read where they are, in {result.by_reference}")
    report = do_verify(ws)
    if not report.ok:
        err_console.print(table("problems", ["kind", "version / run", "detail"],
                                [[p.kind, p.ref, p.detail] for p in report.problems]))
        err_console.print(f"[bold red]{len(report.problems)} problem(s)[/]: `workbench verify` lists them")
        raise typer.Exit(1)
    console.print(f"verify: ok ({report.versions} versions, {report.runs} finished runs)")


def register(root: typer.Typer) -> None:
    root.command("gc")(gc)
    root.command("verify")(verify)
    root.command("backup")(backup)
    root.command("restore")(restore)
