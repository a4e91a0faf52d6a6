"""Task leases: one process at a time runs a task, and a crashed holder never blocks the others.

Before a task runs, its process claims the task's row in the catalog's `leases` table
(holder = host:pid:start-token) and a background thread renews the row's heartbeat. Another
process that wants the same task (the same ablation started twice, or another ablation with a
step of the same content hash) waits while the holder is alive, then finds the task done and
reuses it. A holder on this host is stale, and its lease is taken over, as soon as its process
is gone (kill -9, power loss) or its pid belongs to another process; while it lives it keeps
the lease, however late its heartbeat (a loaded machine starves the heartbeat thread for
minutes, and taking over a live holder would run the task twice). A holder on another host is
stale when its heartbeat is older than `stale_s`. Every catalog call is one short
transaction, as everywhere else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from workbench.core.intents import Holder  # who holds a lease, and whether it still lives: one home

HEARTBEAT_S = 5.0  # how often the holder renews its lease
# a heartbeat older than this is a dead holder on another host; longer than a renewal can be
# held up by a catalog locked by others (base.LOCK_TIMEOUT_S) plus a beat
STALE_S = 180.0
POLL_S = 2.0  # how often a waiting process looks again


def stale_reason(row: dict, stale_s: float) -> str | None:
    """Why the lease in `row` (with the catalog's `now`) may be taken over, or None while it holds."""
    holder = Holder.parse(row["holder"])
    if holder.local:
        return f"its process {holder.pid} is gone" if holder.gone() else None
    age = (row["now"] - row["heartbeat"]).total_seconds()
    if age > stale_s:
        return f"no heartbeat for {age:.0f}s"
    return None


class TaskLease:
    """`with TaskLease(catalog, task_id, ...):` holds the task's lease for the block, waiting first
    while a live holder has it; the heartbeat runs in a daemon thread until the block ends."""

    def __init__(self, catalog, task_id: str, ablation: str | None = None, label: str | None = None,
                 log: Callable[[str], None] | None = None, heartbeat_s: float = HEARTBEAT_S,
                 stale_s: float = STALE_S, poll_s: float = POLL_S):
        self.catalog, self.task_id, self.ablation = catalog, task_id, ablation
        self.label = label or task_id
        self.log = log or (lambda msg: None)
        self.heartbeat_s, self.stale_s, self.poll_s = heartbeat_s, stale_s, poll_s
        self.holder = str(Holder.me())
        self.waited_s = 0.0
        self.took_over_from: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> "TaskLease":
        start = time.monotonic()
        announced = False
        while True:
            row = self.catalog.lease_claim(self.task_id, self.holder, self.ablation, self.label)
            if row["holder"] == self.holder:
                break
            reason = stale_reason(row, self.stale_s)
            if reason is not None:
                if self.catalog.lease_take_over(self.task_id, row["holder"], self.holder, self.ablation, self.label):
                    self.took_over_from = row["holder"]
                    self.log(f"{self.label}: taking over from {row['holder']} ({reason})")
                    break
                continue  # someone else took it over first: look again
            if not announced:
                who = f"ablation {row['ablation']!r}" if row.get("ablation") else "another process"
                age = (row["now"] - row["heartbeat"]).total_seconds()
                self.log(f"{self.label}: waiting for {who} in process {row['holder']}, which is running it "
                         f"(since {row['acquired']:%H:%M:%S} UTC, heartbeat {age:.0f}s ago)")
                announced = True
            time.sleep(self.poll_s)
        self.waited_s = time.monotonic() - start
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{self.task_id[:16]}", daemon=True)
        self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                held = self.catalog.lease_heartbeat(self.task_id, self.holder)
            except Exception as e:  # noqa: BLE001 - a catalog locked for long: try again next beat
                self.log(f"{self.label}: could not renew the lease ({type(e).__name__}: {e}); retrying")
                continue
            if not held:
                self.log(f"{self.label}: WARNING: the lease was taken over by another process (no heartbeat "
                         f"for over {self.stale_s:.0f}s?); both may now run this task")
                return

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.catalog.lease_release(self.task_id, self.holder)

    def __enter__(self) -> "TaskLease":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
