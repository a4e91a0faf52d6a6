"""Catalog rows for task leases: which process runs a task right now.

Each call is one short transaction. Claiming is insert-if-absent; taking a stale lease over is
a compare-and-swap on the old holder, so of two processes that both saw the same stale holder
only one wins. Whether a lease is stale is decided by the caller (workbench.ablate.lease).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from workbench.core.catalog.base import now


class LeasesMixin:
    def lease_claim(self, task_id: str, holder: str, ablation: str | None = None,
                    label: str | None = None) -> dict[str, Any]:
        """Take the lease if nobody holds it; return the lease row as it is now (ours or another's)."""
        with self.connect() as con:
            t = now()
            con.execute(
                "INSERT INTO leases VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (task_id) DO NOTHING",
                [task_id, holder, ablation, label, t, t],
            )
            cur = con.execute("SELECT * FROM leases WHERE task_id = ?", [task_id])
            cols = [d[0] for d in cur.description]
            row = dict(zip(cols, cur.fetchone()))
            row["now"] = t
            return row

    def lease_take_over(self, task_id: str, old_holder: str, holder: str, ablation: str | None = None,
                        label: str | None = None) -> bool:
        """Replace a stale holder by `holder`; False if the lease changed hands (or went) meanwhile."""
        with self.connect() as con:
            t = now()
            [(n,)] = con.execute(
                "UPDATE leases SET holder = ?, ablation = ?, label = ?, acquired = ?, heartbeat = ? "
                "WHERE task_id = ? AND holder = ?",
                [holder, ablation, label, t, t, task_id, old_holder],
            ).fetchall()
            return n == 1

    def lease_heartbeat(self, task_id: str, holder: str, at: datetime | None = None) -> bool:
        """Renew the lease; False if `holder` no longer holds it (it was taken over)."""
        with self.connect() as con:
            [(n,)] = con.execute("UPDATE leases SET heartbeat = ? WHERE task_id = ? AND holder = ?",
                                 [at or now(), task_id, holder]).fetchall()
            return n == 1

    def lease_release(self, task_id: str, holder: str) -> bool:
        with self.connect() as con:
            [(n,)] = con.execute("DELETE FROM leases WHERE task_id = ? AND holder = ?", [task_id, holder]).fetchall()
            return n == 1

    def leases(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM leases ORDER BY acquired")
