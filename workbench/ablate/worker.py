"""Warm workers: one long-lived process per slot of the local executor runs the ablation's model
tasks (train, eval) one after another, with torch, transformers and peft imported once.

A fresh process per task paid ~10 s of imports before every task; a warm worker pays them once,
and while the ablation's builds run it is already importing. Each task keeps the isolation a
fresh process gave it:

- **Failure**: an exception in a task is raised in the parent as itself (the worker's traceback
  attached), and the worker that raised it exits; a worker that dies (a segfault, the OOM killer)
  fails that task with its exit code. The next task gets a fresh worker either way, so nothing a
  failed task left behind reaches another task.
- **Kill -9 of the ablation**: the worker watches its parent and exits when it is gone (as the
  per-task child did); the rerun resumes from the catalog.
- **Logs per task**: the parent sends the worker its own fd 1 and 2 with each task (over the
  Unix socket between them, SCM_RIGHTS), so the task's output goes where a child started at
  that moment would have sent it: the task's log, or the terminal with --verbose. The
  environment (the progress file, the memory budget) is the parent's at that moment too.
- **Memory**: the worker reports its RSS after each task and is recycled (a fresh one started)
  past `max_rss_mb` (WORKBENCH_WORKER_MAX_RSS_MB, default 1,536 MiB) or after `max_tasks`
  tasks (WORKBENCH_WORKER_MAX_TASKS, default 0: no limit). Before each task the process's peak
  RSS is reset (/proc/self/clear_refs), so a run's recorded peak is that task's own, and each
  task's log ends with its peak. `/usr/bin/time -v` on the ablation therefore sees a worker's
  peak since its last task began, not over all its tasks: the largest of the task logs' peaks
  (or `WorkerStats.peak_mb`) is the ablation's.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import pickle
import socket
import sys
import threading
import time
import traceback
import weakref
from dataclasses import dataclass, field
from multiprocessing import reduction

from workbench.ablate.tasks import AblationError
from workbench.core.errors import WorkbenchError

MAX_RSS_ENV = "WORKBENCH_WORKER_MAX_RSS_MB"
MAX_TASKS_ENV = "WORKBENCH_WORKER_MAX_TASKS"
DEFAULT_MAX_RSS_MB = 1536.0
WARM_MODULES = ("torch", "transformers", "peft")


class TaskProcessError(RuntimeError):
    """A task's process failed with an error that could not be sent back as itself."""


def exit_with_parent(parent: int) -> None:
    """Runs in a daemon thread of a task's process: exit as soon as the parent is gone (kill -9)."""
    while True:
        if os.getppid() != parent:
            os._exit(1)
        time.sleep(0.2)


def error_message(e: BaseException) -> tuple:
    """("error", pickled exception or None, its text, the traceback): what goes back to the parent."""
    tb = traceback.format_exc()
    try:
        payload = pickle.dumps(e)
        pickle.loads(payload)
    except Exception:  # noqa: BLE001 - an exception that does not pickle: send its text
        payload = None
    return ("error", payload, f"{type(e).__name__}: {e}", tb)


def raise_error(msg: tuple) -> None:
    _, payload, text, tb = msg[:4]
    if payload is None:
        raise TaskProcessError(f"{text}\n\nin the task's process:\n{tb}")
    err = pickle.loads(payload)
    err.add_note(f"in the task's process:\n{tb}")
    raise err


def _status_mb(key: str) -> float:
    """VmRSS / VmHWM of this process in MiB (0 where /proc is not there)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def reset_peak() -> None:
    """Reset this process's peak RSS, so what a task then records as its peak is its own."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # resets VmHWM and ru_maxrss (Linux >= 4.0)
    except OSError:
        pass


def _run_one(home: str, task: dict, env: dict, fds: list[int], default_threads: int) -> dict:
    """One task with the parent's fd 1/2 and environment; both restored afterwards."""
    from workbench.ablate.execute import execute

    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = os.dup(1), os.dup(2)
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    for fd in fds:
        os.close(fd)
    env_before = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        if not task.get("threads"):
            import torch

            torch.set_num_threads(default_threads)
        out = execute(home, task)
        sys.stderr.flush()  # the task's log says what the process held (the ablation's peak is the largest)
        os.write(2, f"warm worker (pid {os.getpid()}): this task's peak RSS {_status_mb('VmHWM'):,.0f} MiB, "
                    f"RSS after it {_status_mb('VmRSS'):,.0f} MiB\n".encode())
        return out
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        os.environ.clear()
        os.environ.update(env_before)


def _serve(conn, parent: int, home: str) -> None:
    """The worker's loop: import the model libraries once, then run tasks until told to stop."""
    threading.Thread(target=exit_with_parent, args=(parent,), daemon=True).start()
    try:
        _loop(conn, home)
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: the parent decides what follows
        return


def _loop(conn, home: str) -> None:
    started = time.perf_counter()
    import importlib

    for name in WARM_MODULES:
        importlib.import_module(name)
    import torch

    default_threads = torch.get_num_threads()
    warm_s = time.perf_counter() - started
    sock = socket.socket(fileno=os.dup(conn.fileno()))
    peak = 0.0
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg[0] == "stop":
            return
        _, task, env = msg
        fds = reduction.recvfds(sock, 2)
        peak = max(peak, _status_mb("VmHWM"))
        reset_peak()
        t0 = time.perf_counter()
        try:
            out = _run_one(home, task, env, fds, default_threads)
        except BaseException as e:  # noqa: BLE001 - everything goes back to the parent; then this worker ends
            conn.send(error_message(e))
            conn.close()
            return
        task_peak = _status_mb("VmHWM")
        peak = max(peak, task_peak)
        conn.send(("ok", out, {"task_s": time.perf_counter() - t0, "rss_mb": _status_mb("VmRSS"),
                               "task_peak_mb": task_peak, "peak_mb": peak, "warm_s": warm_s}))
        warm_s = 0.0


@dataclass
class WorkerStats:
    """What the executor's warm workers did: per task (kind, seconds, RSS after, peak), and recycles."""

    tasks: list[dict] = field(default_factory=list)
    started: int = 0  # worker processes started
    recycled: int = 0  # replaced for memory or task count
    replaced: int = 0  # replaced after a task failed or the process died

    @property
    def peak_mb(self) -> float:
        return max((t["peak_mb"] for t in self.tasks), default=0.0)


def limit(env: str, default: float) -> float:
    """A worker bound from the environment (a number), else `default`."""
    text = os.environ.get(env)
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise WorkbenchError(f"{env}: not a number: {text!r}") from None


class WarmWorker:
    """One slot: a long-lived spawned process that runs tasks one at a time (`run(task)`), replaced
    after a failure and recycled past its memory or task bound."""

    def __init__(self, home: str | os.PathLike, max_rss_mb: float | None = None, max_tasks: int | None = None):
        self.home = str(home)
        self.max_rss_mb = max_rss_mb if max_rss_mb is not None else limit(MAX_RSS_ENV, DEFAULT_MAX_RSS_MB)
        self.max_tasks = int(max_tasks if max_tasks is not None else limit(MAX_TASKS_ENV, 0))
        self.stats = WorkerStats()
        self._proc = self._conn = None
        self._n = 0
        self._finalizer = self._kill = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Start the process (it imports the model libraries on its own) unless one is running."""
        if self._proc is not None and self._proc.is_alive():
            return
        self._drop()
        ctx = multiprocessing.get_context("spawn")
        mine, theirs = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=_serve, args=(theirs, os.getpid(), self.home), name="workbench-worker")
        proc.start()
        theirs.close()
        self._proc, self._conn, self._n = proc, mine, 0
        self._finalizer = weakref.finalize(self, _stop, proc, mine)
        # at exit: stopped before multiprocessing's own exit hook, which would wait on it for ever
        # (atexit runs its hooks last registered first; multiprocessing's is registered by now)
        atexit.register(self._finalizer)
        self._kill = lambda: _stop(proc, mine, graceful=False)
        self.stats.started += 1

    def run(self, task: dict) -> dict:
        """The task's output from the worker, or its exception raised here."""
        self.start()
        proc, conn = self._proc, self._conn
        try:
            conn.send(("task", task, dict(os.environ)))
            with socket.socket(fileno=os.dup(conn.fileno())) as sock:
                reduction.sendfds(sock, [1, 2])
            msg = conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            proc.join()
            code = proc.exitcode
            self._drop(replaced=True)
            raise AblationError(f"the {task['kind']} task's worker process ended (exit code {code}) without a "
                                "result; a negative code is the signal that killed it (-9: out of memory?)") from None
        except BaseException:  # Ctrl-C (or any error here): the worker must not outlive the task
            self._kill()
            self._drop(replaced=True)
            raise
        if msg[0] != "ok":
            proc.join(30)
            self._drop(replaced=True)
            raise_error(msg)
        out, info = msg[1], msg[2]
        self._n += 1
        self.stats.tasks.append({"kind": task["kind"], "pid": proc.pid, **info})
        if info["rss_mb"] > self.max_rss_mb or (self.max_tasks and self._n >= self.max_tasks):
            self._drop()
            self.stats.recycled += 1
            self.start()  # the next one warms up while the parent does its bookkeeping
        return out

    def _drop(self, replaced: bool = False) -> None:
        if self._proc is None:
            return
        self._finalizer()
        atexit.unregister(self._finalizer)
        self._proc = self._conn = None
        if replaced:
            self.stats.replaced += 1

    def close(self) -> None:
        self._drop()


def _stop(proc, conn, graceful: bool = True) -> None:
    """Ask the worker to stop (or, not `graceful`, terminate it: it is inside a task cut off by Ctrl-C)."""
    if graceful:
        try:
            if proc.is_alive():
                conn.send(("stop",))
        except (OSError, ValueError):
            pass
        proc.join(5)
    if proc.is_alive():
        proc.terminate()
        proc.join(10)
    if proc.is_alive():
        proc.kill()
        proc.join()
    conn.close()
