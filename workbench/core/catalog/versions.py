"""Catalog rows for dataset versions, their lineage and the records removed on the way."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from workbench.core.catalog.base import CatalogError, from_json, now, to_json

REMOVAL_COLUMNS = ("record_id", "step", "reason", "detail")


class VersionsMixin:
    def version_exists(self, version_id: str) -> bool:
        return bool(self.query("SELECT 1 FROM versions WHERE id = ?", [version_id]))

    def add_version(
        self,
        version_id: str,
        name: str,
        n_rows: int,
        path: str,
        operation: str,
        stats: dict,
        meta: dict | None = None,
        parents: list[tuple[str, dict]] | None = None,
        removals: list[dict] | None = None,
    ) -> bool:
        """Register a version, its lineage edges and its removals in one transaction.

        Returns False (and writes nothing) when the version id is already registered.
        """
        parents = parents or []
        removals = removals or []
        with self.connect() as con:
            if con.execute("SELECT 1 FROM versions WHERE id = ?", [version_id]).fetchone():
                # Same content again: only a new lineage edge may be new (e.g. another recipe
                # that happens to give the same records).
                for parent, params in parents:
                    con.execute(
                        "INSERT OR IGNORE INTO lineage VALUES (?, ?, ?, ?, ?)",
                        [parent, version_id, operation, to_json(params), now()],
                    )
                return False
            con.execute(
                "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [version_id, name, now(), n_rows, path, operation, to_json(stats), to_json(meta or {})],
            )
            for parent, params in parents:
                con.execute(
                    "INSERT OR IGNORE INTO lineage VALUES (?, ?, ?, ?, ?)",
                    [parent, version_id, operation, to_json(params), now()],
                )
            if removals:
                table = pa.table(
                    {
                        "version": [version_id] * len(removals),
                        "parent": [r.get("parent") for r in removals],
                        "record_id": [r["record_id"] for r in removals],
                        "step": [r["step"] for r in removals],
                        "reason": [r["reason"] for r in removals],
                        "detail": [None if r.get("detail") is None else str(r["detail"]) for r in removals],
                    }
                )
                con.register("removals_in", table)
                con.execute("INSERT INTO removals SELECT * FROM removals_in")
                con.unregister("removals_in")
        return True

    def resolve_version(self, ref: str) -> dict[str, Any]:
        """A version by exact id, unique id prefix, or name (the newest with that name)."""
        rows = self.query("SELECT * FROM versions WHERE id = ?", [ref])
        if not rows:
            rows = self.query("SELECT * FROM versions WHERE name = ? ORDER BY created DESC LIMIT 1", [ref])
        if not rows and len(ref) >= 4:
            rows = self.query("SELECT * FROM versions WHERE id LIKE ? || '%'", [ref])
            if len(rows) > 1:
                raise CatalogError(f"version prefix {ref!r} is ambiguous: {', '.join(r['id'] for r in rows)}")
        if not rows:
            known = ", ".join(f"{r['name']} ({r['id']})" for r in self.list_versions()[:10]) or "none yet"
            raise CatalogError(f"no dataset version {ref!r} in the catalog; known: {known}")
        return self._version_row(rows[0])

    @staticmethod
    def _version_row(row: dict) -> dict:
        row = dict(row)
        row["stats"] = from_json(row["stats"]) or {}
        row["meta"] = from_json(row["meta"]) or {}
        return row

    def list_versions(self) -> list[dict[str, Any]]:
        return [self._version_row(r) for r in self.query("SELECT * FROM versions ORDER BY created, id")]

    def parents(self, version_id: str) -> list[dict[str, Any]]:
        rows = self.query("SELECT * FROM lineage WHERE child = ? ORDER BY created", [version_id])
        for r in rows:
            r["params"] = from_json(r["params"])
        return rows

    def lineage(self, version_id: str) -> list[dict[str, Any]]:
        """All edges from the roots down to this version (ancestors first)."""
        rows = self.query(
            """
            WITH RECURSIVE up(parent, child, operation, params, created) AS (
                SELECT parent, child, operation, params, created FROM lineage WHERE child = ?
                UNION
                SELECT l.parent, l.child, l.operation, l.params, l.created
                FROM lineage l JOIN up ON l.child = up.parent
            )
            SELECT * FROM up ORDER BY created
            """,
            [version_id],
        )
        for r in rows:
            r["params"] = from_json(r["params"])
        return rows

    def children(self, version_id: str) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM lineage WHERE parent = ? ORDER BY created", [version_id])

    def removals(self, version_id: str) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM removals WHERE version = ? ORDER BY step, record_id", [version_id])

    def removal_summary(self, version_id: str) -> list[dict[str, Any]]:
        return self.query(
            "SELECT step, reason, count(*) AS n FROM removals WHERE version = ? GROUP BY step, reason ORDER BY n DESC",
            [version_id],
        )
