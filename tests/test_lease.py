"""Task leases on the real catalog: a live holder makes others wait, a kill -9'd one (or a
silent one on another host) is taken over, the heartbeat renews, release frees the task."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta

from workbench.ablate.lease import Holder, TaskLease
from workbench.core.catalog import now

HOLD = """
import sys, time
from workbench.ablate.lease import TaskLease
from workbench.core.workspace import Workspace
from pathlib import Path
lease = TaskLease(Workspace(Path(sys.argv[1])).catalog(), "train-x", "abl", "train x", heartbeat_s=600).acquire()
print("held", flush=True)
time.sleep(600)
"""


def _acquire_in_thread(lease: TaskLease) -> threading.Thread:
    t = threading.Thread(target=lease.acquire, daemon=True)
    t.start()
    return t


def _until(cond, what: str, limit_s: float = 120.0) -> None:
    """Wait for `cond()` (an event the code under test marks); the limit only catches a hang."""
    deadline = time.monotonic() + limit_s
    while not cond():
        assert time.monotonic() < deadline, f"no {what} within {limit_s:.0f}s"
        time.sleep(0.02)


def test_a_live_holder_makes_others_wait_and_a_kill_9_holder_is_taken_over(ws):
    ws.catalog().migrate()
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(ws.home)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert proc.stdout.readline().strip() == "held"
        [row] = ws.catalog().leases()
        assert Holder.parse(row["holder"]) == Holder(socket.gethostname(), proc.pid, Holder.parse(row["holder"]).token)
        # a live holder on this host keeps its lease however late its heartbeat (a loaded machine
        # can starve the heartbeat thread; taking over would run the task twice)
        assert ws.catalog().lease_heartbeat("train-x", row["holder"], at=now() - timedelta(hours=1))
        logs: list[str] = []
        lease = TaskLease(ws.catalog(), "train-x", "other", "train x", log=logs.append, poll_s=0.1, stale_s=1)
        t = _acquire_in_thread(lease)
        # the waiting line is logged after a claim failed against the live holder
        _until(lambda: logs or not t.is_alive(), "waiting line")
        assert t.is_alive(), "acquired a lease a live process holds"
        assert ws.catalog().leases()[0]["holder"] == row["holder"]
        assert len(logs) == 1 and "waiting for ablation 'abl' in process" in logs[0] and str(proc.pid) in logs[0]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        t.join(120)
        assert not t.is_alive()
        assert f"taking over from {row['holder']} (its process {proc.pid} is gone)" in logs[-1]
        [mine] = ws.catalog().leases()
        assert mine["holder"] == lease.holder and mine["ablation"] == "other"
        lease.release()
        assert ws.catalog().leases() == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_holder_on_another_host_is_taken_over_only_when_its_heartbeat_is_stale(ws):
    cat = ws.catalog()
    remote = "elsewhere:4242:777"
    cat.lease_claim("eval-y", remote, "abl", "eval y")
    logs: list[str] = []
    lease = TaskLease(cat, "eval-y", "abl2", "eval y", log=logs.append, stale_s=30, poll_s=0.05)
    t = _acquire_in_thread(lease)
    _until(lambda: logs or not t.is_alive(), "waiting line")
    assert t.is_alive() and cat.leases()[0]["holder"] == remote
    assert "waiting for ablation 'abl'" in logs[0]  # the pid cannot be checked there
    assert cat.lease_heartbeat("eval-y", remote, at=now() - timedelta(seconds=45))
    t.join(120)
    assert not t.is_alive() and "taking over from elsewhere:4242:777 (no heartbeat for 45s)" in logs[-1]
    assert not cat.lease_heartbeat("eval-y", remote)  # the old holder has lost it
    lease.release()


def test_heartbeat_renews_and_a_reused_pid_is_not_the_holder(ws):
    cat = ws.catalog()
    free: list[str] = []
    with TaskLease(cat, "build-z", heartbeat_s=0.05, log=free.append):
        first = cat.leases()[0]["heartbeat"]
        _until(lambda: cat.leases()[0]["heartbeat"] > first, "renewed heartbeat")
        assert free == []  # a free lease is taken at once: no waiting, no take-over
    assert cat.leases() == []
    # this host, a live pid, but another start token: the pid was reused, so the holder is gone
    me = Holder.me()
    assert Holder(me.host, me.pid, "12345").gone() and not me.gone()
    cat.lease_claim("build-w", str(Holder(me.host, me.pid, "12345")))
    logs: list[str] = []
    with TaskLease(cat, "build-w", log=logs.append):
        assert "is gone" in logs[0]
