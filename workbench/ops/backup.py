"""`workbench backup DIR` and `workbench restore DIR`: the catalog, and optionally what it points at.

A backup folder holds:

- `catalog.duckdb`: a consistent copy of the live catalog, taken while readers and writers run
  (workbench.core.catalog.backup.snapshot: one committed state, never half a transaction);
- with `--with-data`, `data/<version>.parquet` for every dataset body, `runs/<run>/` for every
  finished run (adapter, config, sanity; not checkpoints) and `rejects/`; bodies are
  content-addressed, so a second backup into the same folder copies only what is new;
- `manifest.json`, written last: the source workspace, the schema version, each table's row
  count, and whether data was copied. A folder without it is not a backup (an interrupted one).

Without `--with-data` the backup refers to the workspace's own files. Restored into the same
workspace (a lost or damaged catalog), nothing moves. Restored into another workspace, each
version's body path becomes the absolute path of the body in the original workspace, and run
directories keep pointing there: `verify` checks those files where they are. With data, bodies
and runs are copied into the new workspace and the run paths moved to it.

Restore refuses to replace a catalog that has rows unless `force`; then the replaced catalog is
kept beside it as `catalog.duckdb.before-restore-<time>`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from workbench.core.catalog.backup import BackupError, inspect, retarget, snapshot, swap_in
from workbench.core.workspace import Workspace

MANIFEST = "manifest.json"
FORMAT = 1


@dataclass(frozen=True)
class BackupResult:
    folder: Path
    tables: dict[str, int]
    schema_version: int
    bodies: int  # copied this time (with data)
    runs: int
    with_data: bool


def _copy_file(src: Path, dst: Path) -> bool:
    """Copy unless an equal-sized file is there (bodies are content-addressed); True if copied."""
    if dst.is_file() and dst.stat().st_size == src.stat().st_size:
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f"{dst.name}.tmp-{os.getpid()}")
    try:
        shutil.copy2(src, tmp)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _copy_tree(src: Path, dst: Path) -> int:
    n = 0
    for f in sorted(src.rglob("*")):
        rel = f.relative_to(src)
        if f.is_file() and "checkpoints" not in rel.parts and ".tmp-" not in f.name:
            n += _copy_file(f, dst / rel)
    return n


def _copy_data(cat, home: Path, dest: Path) -> tuple[int, int]:
    """Bodies, finished runs and rejects that the catalog copy references, from `home` to `dest`."""
    bodies = runs = 0
    for v in cat.query("SELECT id, path FROM versions WHERE path <> ''"):
        src = home / v["path"]
        if src.is_file() and not Path(v["path"]).is_absolute():
            bodies += _copy_file(src, dest / v["path"])
        rejects = home / "rejects" / f"{v['id']}.jsonl"
        if rejects.is_file():
            _copy_file(rejects, dest / "rejects" / rejects.name)
    for r in cat.query("SELECT id, run_dir FROM runs WHERE status = 'finished'"):
        run_dir = Path(r["run_dir"])
        if run_dir.is_dir():
            runs += bool(_copy_tree(run_dir, dest / "runs" / r["id"]))
    return bodies, runs


def backup(ws: Workspace, folder: str | os.PathLike, with_data: bool = False) -> BackupResult:
    """Back up the catalog (and with `with_data` the files it references) into `folder`."""
    from workbench.core.catalog import Catalog

    folder = Path(folder).resolve()
    if folder == ws.home or ws.home in folder.parents:
        raise BackupError(f"{folder}: a backup inside the workspace it backs up would be collected by gc; "
                          "choose a folder outside $WORKBENCH_HOME")
    if not ws.catalog_path.exists():
        raise BackupError(f"{ws.catalog_path}: no catalog to back up")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).unlink(missing_ok=True)  # an interrupted backup leaves no manifest: not a backup
    live = snapshot(ws.catalog(), folder / "catalog.duckdb")
    bodies = runs = 0
    if with_data:
        bodies, runs = _copy_data(Catalog(folder / "catalog.duckdb", reader=True), ws.home, folder)
    manifest = {"format": FORMAT, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "home": str(ws.home),
                "with_data": with_data, **live}
    tmp = folder / f"{MANIFEST}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, folder / MANIFEST)
    return BackupResult(folder, live["tables"], live["schema_version"], bodies, runs, with_data)


@dataclass(frozen=True)
class RestoreResult:
    folder: Path
    tables: dict[str, int]
    by_reference: Path | None  # the original workspace whose files the catalog now points at
    kept_old: Path | None  # the replaced catalog, when there was one with rows


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not path.is_file():
        raise BackupError(f"{folder}: not a workbench backup (no {MANIFEST}; an interrupted backup has none)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise BackupError(f"{path}: unreadable manifest ({e})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: backup format {manifest.get('format')!r}, this workbench reads {FORMAT}")
    return manifest


def _has_rows(catalog_path: Path) -> bool:
    if not catalog_path.exists():
        return False
    tables = inspect(catalog_path)["tables"]
    return any(n for t, n in tables.items() if t not in ("schema_migrations", "leases"))


def restore(ws: Workspace, folder: str | os.PathLike, force: bool = False) -> RestoreResult:
    """Make the backup in `folder` this workspace's catalog (copying its data, if it has any)."""
    folder = Path(folder).resolve()
    manifest = read_manifest(folder)
    got = inspect(folder / "catalog.duckdb")
    if got["tables"] != manifest["tables"]:
        raise BackupError(f"{folder / 'catalog.duckdb'}: row counts differ from {MANIFEST}; the backup is damaged")
    old_home = Path(manifest["home"])
    kept = None
    if _has_rows(ws.catalog_path):
        if not force:
            raise BackupError(f"{ws.catalog_path} already has rows; restoring would replace them. Pass --force "
                              "to restore anyway (the current catalog is kept beside it)")
        kept = ws.catalog_path.with_name(f"{ws.catalog_path.name}.before-restore-{time.strftime('%Y%m%d-%H%M%S')}")
    if manifest["with_data"]:
        for sub in ("data", "runs", "rejects"):
            if (folder / sub).is_dir():
                _copy_tree(folder / sub, ws.home / sub)
    by_reference = None if manifest["with_data"] or old_home == ws.home else old_home
    tmp = ws.home / f"catalog.duckdb.restore-{os.getpid()}"
    try:
        shutil.copyfile(folder / "catalog.duckdb", tmp)
        retarget(tmp, old_home, ws.home, by_reference)
        swap_in(ws.catalog_path, tmp, kept)
    finally:
        tmp.unlink(missing_ok=True)
    return RestoreResult(folder, got["tables"], by_reference, kept)
