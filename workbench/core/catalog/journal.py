"""Catalog rows made away from the catalog: a worker's changes, carried to the one writer.

DuckDB lets one process write a file, and its lock is not to be trusted on a shared (network)
filesystem. So a task that runs on a cluster worker never opens the workspace's catalog:

1. the driver takes a `snapshot` (the catalog file's bytes, after a checkpoint);
2. the worker writes them to a private file, runs the step against a copy of it, and
   `diff`s the copy with the snapshot: per table, the rows it added or changed and the primary
   keys of the rows it deleted (a `CatalogDelta`, plain Arrow tables);
3. the driver `apply`s the delta in one transaction (INSERT OR REPLACE by primary key), so a
   task's rows land all at once or not at all (a driver killed mid-task leaves none behind).

Every table has a primary key (migrations.py), which is what makes a replayed row idempotent:
two workers that both ingested the same file send the same version row, and it lands once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from workbench.core.catalog.base import CatalogBase, CatalogError


@dataclass
class TableDelta:
    upserts: object  # pyarrow.Table: whole rows, in the table's column order
    deletes: object  # pyarrow.Table: the primary-key columns of deleted rows


@dataclass
class CatalogDelta:
    schema_version: int
    tables: dict[str, TableDelta] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return sum(d.upserts.num_rows + d.deletes.num_rows for d in self.tables.values())


def snapshot(cat: CatalogBase) -> bytes:
    """The catalog file as bytes, consistent (checkpointed, read while this process holds it)."""
    with cat.connect(write=False) as con:
        con.execute("CHECKPOINT")
        return Path(cat.path).read_bytes()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _primary_keys(con, db: str) -> dict[str, list[str]]:
    rows = con.execute(
        "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
        "WHERE database_name = ? AND schema_name = 'main' AND constraint_type = 'PRIMARY KEY'", [db]).fetchall()
    return {t: list(cols) for t, cols in rows}


def _lit(path: str | Path) -> str:
    """A file path as an SQL string literal (quotes doubled): for ATTACH, which takes no parameter."""
    return "'" + str(Path(path)).replace("'", "''") + "'"


def _schema_version(con, db: str) -> int:
    return con.execute(f"SELECT coalesce(max(version), 0) FROM {db}.main.schema_migrations").fetchone()[0]


def diff(before: str | Path, after: str | Path) -> CatalogDelta:
    """What changed from the catalog file `before` to `after` (both closed files)."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {_lit(before)} AS s (READ_ONLY)")  # ATTACH takes no ? parameter
        con.execute(f"ATTACH {_lit(after)} AS w (READ_ONLY)")
        version = _schema_version(con, "w")
        if version != _schema_version(con, "s"):
            raise CatalogError(f"the worker's catalog was migrated to schema {version} during the task; "
                               "run the same workbench version on the driver and the workers")
        keys = _primary_keys(con, "w")
        delta = CatalogDelta(version)
        for table, pk in sorted(keys.items()):
            if table == "schema_migrations":
                continue
            t, cols = _q(table), ", ".join(_q(c) for c in pk)
            up = con.sql(f"SELECT * FROM w.main.{t} EXCEPT SELECT * FROM s.main.{t}").to_arrow_table()
            gone = con.sql(f"SELECT {cols} FROM s.main.{t} EXCEPT SELECT {cols} FROM w.main.{t}").to_arrow_table()
            if up.num_rows or gone.num_rows:
                delta.tables[table] = TableDelta(up, gone)
        return delta
    finally:
        con.close()


def apply(cat: CatalogBase, delta: CatalogDelta) -> None:
    """Write a worker's delta into the catalog, in one transaction (this process is the writer)."""
    if not delta.tables:
        return
    with cat.connect() as con:
        have = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]
        if have != delta.schema_version:
            raise CatalogError(f"a task's rows are for catalog schema {delta.schema_version}, this catalog is at "
                               f"{have}; run the same workbench version on the driver and the workers")
        keys = _primary_keys(con, con.execute("SELECT current_database()").fetchone()[0])
        for table, d in delta.tables.items():
            t = _q(table)
            if d.deletes.num_rows:
                con.register("wb_gone", d.deletes)
                match = " AND ".join(f"{t}.{_q(c)} = wb_gone.{_q(c)}" for c in keys[table])
                con.execute(f"DELETE FROM {t} USING wb_gone WHERE {match}")
                con.unregister("wb_gone")
            if d.upserts.num_rows:
                con.register("wb_rows", d.upserts)
                con.execute(f"INSERT OR REPLACE INTO {t} SELECT * FROM wb_rows")
                con.unregister("wb_rows")
