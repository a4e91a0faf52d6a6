"""Catalog rows for training runs and their logged steps."""

from __future__ import annotations

from typing import Any

from workbench.core.catalog.base import CatalogError, from_json, now, to_json

JSON_COLUMNS = ("config", "sanity", "meta")


class RunsMixin:
    def start_run(self, row: dict[str, Any]) -> bool:
        """Insert a run in 'running' state, or mark an existing unfinished one as running again.

        Returns True when the row is new. A finished run is never touched.
        """
        with self.connect() as con:
            found = con.execute("SELECT status FROM runs WHERE id = ?", [row["id"]]).fetchone()
            if found:
                if found[0] != "finished":
                    con.execute(
                        "UPDATE runs SET status = 'running', pid = ?, error = NULL, attempts = attempts + 1, "
                        "updated = ? WHERE id = ?",
                        [row.get("pid"), now(), row["id"]],
                    )
                return False
            t = now()
            full = {"attempts": 1, "created": t, "updated": t, "status": "running", **row}
            cols = list(full)
            con.execute(
                f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                [to_json(full[c]) if c in JSON_COLUMNS else full[c] for c in cols],
            )
            return True

    def update_run(self, run_id: str, **fields) -> None:
        if not fields:
            return
        fields["updated"] = now()
        sets = ", ".join(f"{k} = ?" for k in fields)
        values = [to_json(v) if k in JSON_COLUMNS else v for k, v in fields.items()]
        with self.connect() as con:
            con.execute(f"UPDATE runs SET {sets} WHERE id = ?", [*values, run_id])

    def finish_run(self, run_id: str, **fields) -> None:
        self.update_run(run_id, status="finished", finished=now(), pid=None, error=None, **fields)

    def fail_run(self, run_id: str, error: str) -> None:
        self.update_run(run_id, status="failed", error=error, pid=None)

    def add_run_steps(self, run_id: str, steps: list[dict]) -> None:
        """Record logged steps; a step logged again (after resume, or an eval at the same step) merges in."""
        if not steps:
            return
        with self.connect() as con:
            con.executemany(
                """
                INSERT INTO run_steps (run_id, step, loss, eval_loss, lr, epoch, grad_norm, metrics)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (run_id, step) DO UPDATE SET
                    loss = coalesce(excluded.loss, run_steps.loss),
                    eval_loss = coalesce(excluded.eval_loss, run_steps.eval_loss),
                    lr = coalesce(excluded.lr, run_steps.lr),
                    epoch = coalesce(excluded.epoch, run_steps.epoch),
                    grad_norm = coalesce(excluded.grad_norm, run_steps.grad_norm),
                    metrics = coalesce(excluded.metrics, run_steps.metrics)
                """,
                [[run_id, s["step"], s.get("loss"), s.get("eval_loss"), s.get("lr"), s.get("epoch"), s.get("grad_norm"),
                  to_json(s["metrics"]) if s.get("metrics") else None]
                 for s in steps],
            )

    @staticmethod
    def _run_row(row: dict) -> dict:
        row = dict(row)
        for c in JSON_COLUMNS:
            row[c] = from_json(row.get(c))
        row["config"] = row["config"] or {}
        row["sanity"] = row["sanity"] or []
        row["meta"] = row["meta"] or {}
        return row

    def find_run(self, run_id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM runs WHERE id = ?", [run_id])
        return self._run_row(rows[0]) if rows else None

    def get_run(self, ref: str) -> dict[str, Any]:
        """A run by exact id or unique id prefix (at least 4 characters)."""
        row = self.find_run(ref)
        if row:
            return row
        rows = self.query("SELECT * FROM runs WHERE id LIKE ? || '%'", [ref]) if len(ref) >= 4 else []
        if len(rows) > 1:
            raise CatalogError(f"run prefix {ref!r} is ambiguous: {', '.join(r['id'] for r in rows)}")
        if not rows:
            known = ", ".join(r["id"] for r in self.query("SELECT id FROM runs ORDER BY created DESC LIMIT 10"))
            raise CatalogError(f"no training run {ref!r} in the catalog; known: {known or 'none yet'}")
        return self._run_row(rows[0])

    def list_runs(self, version_id: str | None = None) -> list[dict[str, Any]]:
        if version_id:
            rows = self.query("SELECT * FROM runs WHERE version_id = ? ORDER BY created, id", [version_id])
        else:
            rows = self.query("SELECT * FROM runs ORDER BY created, id")
        return [self._run_row(r) for r in rows]

    def run_steps(self, run_id: str) -> list[dict[str, Any]]:
        """Logged steps; `metrics` holds the method's own numbers (rewards, margins) or None."""
        rows = self.query(
            "SELECT step, loss, eval_loss, lr, epoch, grad_norm, metrics FROM run_steps WHERE run_id = ? ORDER BY step",
            [run_id],
        )
        return [{**r, "metrics": from_json(r["metrics"])} for r in rows]

    def runs_steps(self, run_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """`run_steps` of many runs in one query: run id -> its logged steps."""
        out: dict[str, list[dict[str, Any]]] = {r: [] for r in run_ids}
        if not run_ids:
            return out
        rows = self.query(
            "SELECT run_id, step, loss, eval_loss, lr, epoch, grad_norm, metrics FROM run_steps "
            "WHERE run_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY run_id, step",
            [list(run_ids)],
        )
        for r in rows:
            run_id = r.pop("run_id")
            out[run_id].append({**r, "metrics": from_json(r["metrics"])})
        return out
