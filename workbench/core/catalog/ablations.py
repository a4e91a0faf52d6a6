"""Catalog rows for ablations and their tasks (build a variant, train a run, evaluate a run).

Each write is one short transaction, so `workbench ablate status` and the browser view can
read while an ablation runs.
"""

from __future__ import annotations

import os
from typing import Any

from workbench.core.catalog.base import CatalogError, from_json, now, to_json
from workbench.core.processes import pid_alive


class AblationsMixin:
    # --- ablations ---------------------------------------------------------------------
    def save_ablation(self, name: str, spec: dict, spec_hash: str, spec_path: str | None = None) -> None:
        with self.connect() as con:
            con.execute(
                """
                INSERT INTO ablations VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, spec_hash = excluded.spec_hash,
                    spec_path = excluded.spec_path, updated = excluded.updated
                """,
                [name, to_json(spec), spec_hash, spec_path, now(), now()],
            )

    def get_ablation(self, name: str) -> dict[str, Any]:
        rows = self.query("SELECT * FROM ablations WHERE name = ?", [name])
        if not rows:
            known = ", ".join(r["name"] for r in self.list_ablations()) or "none yet"
            raise CatalogError(f"no ablation {name!r} in the catalog; known: {known}")
        row = rows[0]
        row["spec"] = from_json(row["spec"])
        return row

    def list_ablations(self) -> list[dict[str, Any]]:
        try:
            rows = self.query("SELECT name, spec_hash, spec_path, created, updated FROM ablations ORDER BY updated DESC")
        except Exception as e:  # a catalog made before migration 6 (read-only view): nothing yet
            if "ablations" in str(e):
                return []
            raise
        return rows

    # --- tasks -------------------------------------------------------------------------
    def task_started(self, ablation: str, task_id: str, kind: str, variant: str, seed: int | None,
                     label: str, inputs: dict) -> None:
        """Mark a task running (a new row, or a retry of a failed or interrupted one)."""
        with self.connect() as con:
            con.execute(
                """
                INSERT INTO ablation_tasks VALUES (?, ?, ?, ?, ?, ?, ?, 'running', NULL, NULL, ?, 1, ?, NULL, NULL)
                ON CONFLICT (ablation, task_id) DO UPDATE SET status = 'running', error = NULL, output = NULL,
                    pid = excluded.pid, attempts = ablation_tasks.attempts + 1, started = excluded.started,
                    finished = NULL, wall_s = NULL
                """,
                [ablation, task_id, kind, variant, seed, label, to_json(inputs), os.getpid(), now()],
            )

    def task_done(self, ablation: str, task_id: str, output: dict, wall_s: float) -> None:
        with self.connect() as con:
            con.execute(
                "UPDATE ablation_tasks SET status = 'done', output = ?, error = NULL, finished = ?, wall_s = ? "
                "WHERE ablation = ? AND task_id = ?",
                [to_json(output), now(), wall_s, ablation, task_id],
            )

    def task_failed(self, ablation: str, task_id: str, error: str, wall_s: float | None,
                    status: str = "failed") -> None:
        """Record a failure (or, with status='interrupted', a Ctrl-C) and its message."""
        with self.connect() as con:
            con.execute(
                "UPDATE ablation_tasks SET status = ?, error = ?, finished = ?, wall_s = ? "
                "WHERE ablation = ? AND task_id = ?",
                [status, error, now(), wall_s, ablation, task_id],
            )

    def task_reused(self, ablation: str, task_id: str, kind: str, variant: str, seed: int | None,
                    label: str, inputs: dict, output: dict) -> None:
        """Record a task whose result another ablation already produced (same content hash)."""
        with self.connect() as con:
            con.execute(
                """
                INSERT INTO ablation_tasks VALUES (?, ?, ?, ?, ?, ?, ?, 'done', ?, NULL, NULL, 0, ?, ?, 0)
                ON CONFLICT (ablation, task_id) DO NOTHING
                """,
                [ablation, task_id, kind, variant, seed, label, to_json(inputs), to_json(output), now(), now()],
            )

    @staticmethod
    def _task_row(row: dict) -> dict:
        row = dict(row)
        row["inputs"] = from_json(row["inputs"]) or {}
        row["output"] = from_json(row["output"]) or {}
        # a 'running' row whose process is gone was interrupted (Ctrl-C, kill -9, power loss)
        if row["status"] == "running" and not pid_alive(row.get("pid")):
            row["status"] = "interrupted"
        return row

    def ablation_tasks(self, ablation: str) -> list[dict[str, Any]]:
        rows = self.query(
            "SELECT * FROM ablation_tasks WHERE ablation = ? ORDER BY started NULLS LAST, kind, variant, seed, label",
            [ablation],
        )
        return [self._task_row(r) for r in rows]

    def get_task(self, ablation: str, task_id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM ablation_tasks WHERE ablation = ? AND task_id = ?", [ablation, task_id])
        return self._task_row(rows[0]) if rows else None

    def ablation_state(self, name: str) -> tuple:
        """What changes whenever the ablation's report would: its spec's update time and its tasks'
        count, statuses and last start and finish (one aggregate row; a key for caching its report)."""
        rows = self.query(
            "SELECT (SELECT updated FROM ablations WHERE name = ?) AS updated, count(*) AS n, "
            "count(*) FILTER (WHERE status = 'done') AS done, max(started) AS started, max(finished) AS finished, "
            "sum(attempts) AS attempts FROM ablation_tasks WHERE ablation = ?",
            [name, name],
        )
        return tuple(rows[0].values())

    def tasks_naming(self, ref: str, kind: str) -> list[dict[str, Any]]:
        """Tasks of `kind` whose output names `ref` (a version or run id), each with its ablation's
        `spec_path`: what `verify --repair` marks, and the command it prints."""
        rows = self.query(
            "SELECT t.*, a.spec_path FROM ablation_tasks t JOIN ablations a ON a.name = t.ablation "
            "WHERE t.kind = ? AND contains(t.output::VARCHAR, ?) ORDER BY t.ablation, t.label",
            [kind, ref],
        )
        return [self._task_row(r) for r in rows]

    def find_done_task(self, task_id: str) -> dict[str, Any] | None:
        """A finished task with this content hash in any ablation: its output can be reused."""
        rows = self.query(
            "SELECT * FROM ablation_tasks WHERE task_id = ? AND status = 'done' ORDER BY finished DESC LIMIT 1",
            [task_id],
        )
        return self._task_row(rows[0]) if rows else None
