"""Catalog rows for curation: per-step summaries, flagged records and dedup clusters."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from workbench.core.catalog.base import from_json, to_json


class CurationMixin:
    def save_curation(
        self,
        version: str,
        parent: str,
        recipe_hash: str,
        summary: list[dict[str, Any]],
        flags: list[dict[str, Any]],
        clusters: list[dict[str, Any]],
    ) -> None:
        """Replace the curation rows of `version` (one transaction; rerunning is harmless)."""
        with self.connect() as con:
            for table in ("curation_steps", "curation_flags", "dedup_clusters"):
                con.execute(f"DELETE FROM {table} WHERE version = ?", [version])
            for s in summary:
                con.execute(
                    "INSERT INTO curation_steps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [version, s["position"], parent, recipe_hash, s["step"], s["in"], s["kept"], s["dropped"],
                     s["flagged"], to_json(s["top_reasons"]), to_json(s.get("report") or {}), s.get("wall_s")],
                )
            for f in flags:
                con.execute(
                    "INSERT OR IGNORE INTO curation_flags VALUES (?, ?, ?, ?, ?)",
                    [version, f["record_id"], f["step"], f["reason"], f.get("detail")],
                )
            rows = [
                (version, c["step"], c["cluster_id"], m["record_id"], m["kept"], m["similarity"], c["measure"],
                 len(c["members"]), m["text"])
                for c in clusters
                for m in c["members"]
            ]
            if rows:
                cols = list(zip(*rows))
                names = ["version", "step", "cluster_id", "record_id", "kept", "similarity", "measure", "size", "text"]
                con.register("clusters_in", pa.table(dict(zip(names, map(list, cols)))))
                con.execute("INSERT OR IGNORE INTO dedup_clusters SELECT * FROM clusters_in")
                con.unregister("clusters_in")

    def curation_steps(self, version: str) -> list[dict[str, Any]]:
        rows = self.query("SELECT * FROM curation_steps WHERE version = ? ORDER BY position", [version])
        for r in rows:
            r["top_reasons"] = from_json(r["top_reasons"]) or []
            r["report"] = from_json(r["report"]) or {}
        return rows

    def curation_flags(self, version: str) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM curation_flags WHERE version = ? ORDER BY step, record_id", [version])

    def dedup_clusters(self, version: str, limit: int = 10, step: str | None = None) -> list[dict[str, Any]]:
        """The largest clusters (then by id), each with its members, the kept one first."""
        where, params = "version = ?", [version]
        if step:
            where += " AND step = ?"
            params.append(step)
        heads = self.query(
            f"SELECT step, cluster_id, max(size) AS size, any_value(measure) AS measure FROM dedup_clusters "
            f"WHERE {where} GROUP BY step, cluster_id ORDER BY size DESC, cluster_id LIMIT ?",
            [*params, limit],
        )
        out = []
        for h in heads:
            members = self.query(
                "SELECT record_id, kept, similarity, text FROM dedup_clusters WHERE version = ? AND step = ? "
                "AND cluster_id = ? ORDER BY kept DESC, similarity DESC, record_id",
                [version, h["step"], h["cluster_id"]],
            )
            out.append({**h, "members": members})
        return out

    def dedup_cluster_count(self, version: str) -> int:
        rows = self.query("SELECT count(DISTINCT step || cluster_id) AS n FROM dedup_clusters WHERE version = ?", [version])
        return rows[0]["n"]

    def removal_sample(self, version: str, reason: str, per_reason: int = 3) -> list[dict[str, Any]]:
        """Up to `per_reason` removal rows for each matching reason, by reason then record id.

        `reason` is a reason (`near_duplicate`), a reason prefix before `:` (`pii` matches
        `pii:email`, `eval_overlap` matches `eval_overlap:gsm_style`), a step name, or `all`.
        """
        rows = self.query(
            "SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY step, reason ORDER BY record_id) AS k "
            "FROM removals WHERE version = ? AND (? = 'all' OR reason = ? OR step = ? OR split_part(reason, ':', 1) = ?)) "
            "WHERE k <= ? ORDER BY step, reason, record_id",
            [version, reason, reason, reason, reason, per_reason],
        )
        for r in rows:
            r.pop("k", None)
        return rows
