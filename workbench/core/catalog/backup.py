"""The catalog side of backups: a consistent copy of the live file, and paths moved on restore.

A copy is taken under the catalog's own lock discipline (catalog/base.py): one read-write
connection, opened with the usual retry, holds the file while it checkpoints (the WAL is folded
into the file) and the file is copied. Writers and readers in other processes wait for that
connection as they wait for any writer, so the copy is one committed state, never half of a
transaction. The copy is then opened on its own and its row counts checked against the live
connection's before it is kept.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from workbench.core.catalog.base import CatalogBase, CatalogError, _full_disk_is_clear


class BackupError(CatalogError):
    """A backup that cannot be taken or restored; the message says which file and why."""


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                        "WHERE table_schema = 'main' ORDER BY 1").fetchall()]
    return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]


def snapshot(catalog: CatalogBase, dest: Path) -> dict:
    """Copy the live catalog to `dest` (a new DuckDB file); returns {schema_version, tables}."""
    catalog.migrate()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{dest.name}.tmp-{os.getpid()}")
    try:
        with _full_disk_is_clear(catalog.path):
            con = catalog._open(read_only=False)
            try:
                con.execute("CHECKPOINT")
                live = {"schema_version": schema_version(con), "tables": table_counts(con)}
                shutil.copyfile(catalog.path, tmp)
            finally:
                con.close()
        got = inspect(tmp)
        if got != live:
            raise BackupError(f"{dest}: the copy does not match the live catalog ({got} vs {live}); try again")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return live


def inspect(path: Path) -> dict:
    """{schema_version, tables} of a catalog file, opened read-only; BackupError if it is not one."""
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as e:
        raise BackupError(f"{path}: not a readable catalog file ({e})") from None
    try:
        return {"schema_version": schema_version(con), "tables": table_counts(con)}
    except duckdb.Error as e:
        raise BackupError(f"{path}: not a workbench catalog ({e})") from None
    finally:
        con.close()


def retarget(path: Path, old_home: Path, new_home: Path, bodies_from: Path | None) -> None:
    """Point a restored catalog file (not yet live) at its new home.

    Run and adapter directories under `old_home` move under `new_home`. With `bodies_from`
    (a restore by reference into another workspace), each relative body path becomes the
    absolute path of the body in that original workspace, and run paths are left pointing there."""
    con = duckdb.connect(str(path))
    try:
        con.execute("BEGIN TRANSACTION")
        if bodies_from is not None:
            con.execute("UPDATE versions SET path = ? || path WHERE path <> '' AND NOT starts_with(path, '/')",
                        [f"{bodies_from}/"])
        elif old_home != new_home:
            moved = [str(new_home), len(str(old_home)) + 1, f"{old_home}/"]
            con.execute("UPDATE runs SET run_dir = ? || substr(run_dir, ?) WHERE starts_with(run_dir, ?)", moved)
            con.execute("UPDATE runs SET adapter_dir = ? || substr(adapter_dir, ?) WHERE starts_with(adapter_dir, ?)",
                        moved)
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    finally:
        con.close()


def swap_in(catalog_path: Path, new_file: Path, keep_old_as: Path | None) -> None:
    """Make `new_file` the catalog, holding the live file's lock while the names change, so no
    writer in another process is inside a transaction on the old file at that moment."""
    if not catalog_path.exists():
        os.replace(new_file, catalog_path)
        return
    con = CatalogBase(catalog_path)._open(read_only=False)
    try:
        con.execute("CHECKPOINT")  # nothing of the old catalog is left in a WAL beside the new one
        if keep_old_as is not None:
            shutil.copyfile(catalog_path, keep_old_as)
        os.replace(new_file, catalog_path)
    finally:
        con.close()
