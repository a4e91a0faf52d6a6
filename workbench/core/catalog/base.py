"""Connections to the catalog DuckDB file: short-lived, retried on lock, migrated on first use.

DuckDB lets one process write a database file at a time, and a reader in another process
cannot open it while a writer holds it. So every operation opens a connection, does its
work in one transaction and closes it at once; a process that finds the file locked
waits and retries. The browser view can then read while an ablation writes.
"""

from __future__ import annotations

from workbench.core.errors import WorkbenchError

import json
import random
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from workbench.core.catalog.migrations import MIGRATIONS

LOCK_TIMEOUT_S = 120.0


class CatalogError(WorkbenchError, LookupError):
    """Something asked of the catalog that is not there (a version, a run)."""


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


def from_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _is_lock_error(e: Exception) -> bool:
    msg = str(e).lower()
    return "lock" in msg or "conflicting" in msg or "being used by another process" in msg


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back, if a transaction is still open: a COMMIT that failed (a full disk) has ended it,
    and a second error here would hide the first."""
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass


@contextmanager
def _full_disk_is_clear(path: Path):
    """A DuckDB write that finds the disk full becomes DiskFullError naming the catalog file."""
    try:
        yield
    except duckdb.Error as e:
        from workbench.core.diskfull import disk_full_error, is_disk_full

        if is_disk_full(e):
            raise disk_full_error(e, path, "the catalog") from e
        raise


class CatalogBase:
    def __init__(self, path: str | Path, reader: bool = False):
        self.path = Path(path)
        self.reader = reader
        self._migrated = False

    # --- connections -------------------------------------------------------------------
    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        delay = 0.01
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except (duckdb.IOException, duckdb.ConnectionException) as e:
                if not _is_lock_error(e) or time.monotonic() > deadline:
                    raise
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.25)

    @contextmanager
    def connect(self, write: bool = True):
        """A connection for one unit of work; with write=True it is one transaction.

        A full disk (the WAL or the file cannot grow) raises DiskFullError naming the catalog;
        the transaction is rolled back, so the catalog is as it was."""
        read_only = self.reader and not write
        if not self._migrated:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if read_only and not self.path.exists():
                self.migrate()  # a reader of a catalog not made yet: a writer makes it first
        with _full_disk_is_clear(self.path):
            con = self._open(read_only)
            try:
                if not self._migrated:  # checked (and applied) on this connection: one open, not two
                    if not read_only:
                        self._apply_on(con)
                    elif self._version_on(con) < max(MIGRATIONS):
                        con.close()
                        self.migrate()  # an older catalog: brought up to date by a writer, as before
                        con = self._open(read_only)
                    self._migrated = True
                if write and not read_only:
                    con.execute("BEGIN TRANSACTION")
                    try:
                        yield con
                        con.execute("COMMIT")
                    except BaseException:
                        _rollback(con)
                        raise
                else:
                    yield con
            finally:
                con.close()

    def query(self, sql: str, params: list | tuple = ()) -> list[dict[str, Any]]:
        """Run a read query and return rows as dicts."""
        with self.connect(write=False) as con:
            cur = con.execute(sql, params)
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, row)) for row in cur.fetchall()]

    def query_df(self, sql: str, params: list | tuple = ()):
        """Run a read query and return a polars DataFrame."""
        with self.connect(write=False) as con:
            return con.execute(sql, params).pl()

    # --- schema ------------------------------------------------------------------------
    def schema_version(self) -> int:
        rows = self.query("SELECT max(version) AS v FROM schema_migrations")
        return rows[0]["v"] or 0

    def migrate(self) -> list[int]:
        """Apply pending migrations in order, each in its own transaction."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.reader and self.path.exists():
            # a reader leaves an up-to-date schema alone; a catalog written by an older workbench is
            # brought up to date first (migrations only add), as any writer would on its first use
            con = self._open(read_only=True)
            try:
                have = self._version_on(con)
            finally:
                con.close()
            if have >= max(MIGRATIONS):
                self._migrated = True
                return []
        with _full_disk_is_clear(self.path):
            applied_now = self._apply_pending()
        self._migrated = True
        return applied_now

    def _apply_pending(self) -> list[int]:
        """Each pending migration in its own transaction: a process killed in one (kill -9) leaves
        it unapplied and unrecorded, and the next connection applies it again from the start."""
        con = self._open(read_only=False)
        try:
            return self._apply_on(con)
        finally:
            con.close()

    @staticmethod
    def _version_on(con) -> int:
        try:
            return con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] or 0
        except duckdb.Error:
            return 0

    @staticmethod
    def _apply_on(con) -> list[int]:
        """The pending migrations, on an open writable connection (left open)."""
        applied_now = []
        if CatalogBase._version_on(con) >= max(MIGRATIONS):
            return applied_now  # up to date: one read, nothing written
        con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied TIMESTAMP)")
        done = {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}
        for number in sorted(MIGRATIONS):
            if number in done:
                continue
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(MIGRATIONS[number])
                con.execute("INSERT INTO schema_migrations VALUES (?, ?)", [number, now()])
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise
            applied_now.append(number)
        return applied_now
