"""Where a task runs. `execute(home, task)` runs one task from plain data and returns plain data,
so a distributed engine (a Ray remote function per task, accelerate for one training task) can
take the place of `LocalExecutor` without changing the steps.

`LocalExecutor(isolate=True)` runs train and eval tasks each in a fresh child process ("spawn"):
the task goes in as plain data, the output comes back as plain data, and the model's memory goes back to the
system when the child exits, so a long ablation holds one model at a time. A child's exception is
re-raised in the parent (same type where it can be pickled) with the child's traceback attached;
Ctrl-C stops the child and reaches the runner, which marks the task interrupted; a child whose
parent dies (kill -9) stops itself.

A task dict may carry `threads` (from the spec's `resources`): the task's process then uses that
many torch / OMP / MKL threads, so tasks sharing a machine share its cores instead of each
taking all of them. `execute_detached` runs a task against a private copy of the catalog and
returns its rows as a delta (catalog/journal.py): how a cluster worker runs (ray_executor.py).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import pickle
import socket
import tempfile
import threading
import time
import traceback
from pathlib import Path

from workbench.ablate.outputs import TaskOutput, parse_output
from workbench.ablate.spec import ResourcesSpec
from workbench.ablate.steps import STEPS
from workbench.ablate.tasks import AblationError, Task
from workbench.workspace import DetachedWorkspace, Workspace

ISOLATED_KINDS = frozenset({"train", "eval"})  # the tasks that load a model
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def set_threads(n: float) -> int:
    """Size this process's thread pools to `n` cores (at least 1): OMP/MKL variables and torch."""
    n = max(1, int(n))
    for var in THREAD_VARS:
        os.environ[var] = str(n)
    import torch

    torch.set_num_threads(n)
    return n


def execute(home: str | os.PathLike, task: dict, ws: Workspace | None = None, where: str | None = None) -> dict:
    """Run one task from plain data and return its output (also plain data), which says where it ran."""
    if task.get("threads"):
        set_threads(task["threads"])
    ws = ws or Workspace(Path(home))
    out = STEPS[task["kind"]](ws, task["inputs"])
    return dataclasses.replace(out, where=where or socket.gethostname()).to_dict()


def execute_detached(home: str | os.PathLike, task: dict, catalog: bytes, where: str | None = None):
    """`execute` against a private copy of the catalog (`catalog`: the driver's snapshot); returns
    (output, delta): the rows the step wrote, for the driver to apply. The workspace's own catalog
    is never opened here; its artefact folders (data, runs) are written as usual."""
    from workbench.catalog.journal import diff

    with tempfile.TemporaryDirectory(prefix="workbench-task-") as tmp:
        before, after = Path(tmp) / "before.duckdb", Path(tmp) / "after.duckdb"
        before.write_bytes(catalog)
        after.write_bytes(catalog)
        ws = DetachedWorkspace(Path(home), catalog_file=after)
        out = execute(home, task, ws=ws, where=where)
        return out, diff(before, after)


class TaskProcessError(RuntimeError):
    """A task's child process failed with an error that could not be sent back as itself."""


def _exit_with_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(1)
        time.sleep(0.2)


def _child(conn, parent: int, home: str, task: dict) -> None:
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    try:
        conn.send(("ok", execute(home, task)))
    except BaseException as e:  # noqa: BLE001 - everything goes back to the parent
        tb = traceback.format_exc()
        try:
            payload = pickle.dumps(e)
            pickle.loads(payload)
        except Exception:  # noqa: BLE001 - an exception that does not pickle: send its text
            payload = None
        conn.send(("error", payload, f"{type(e).__name__}: {e}", tb))
    finally:
        conn.close()


def run_in_child(home: str | os.PathLike, task: dict) -> dict:
    """`execute(home, task)` in a fresh spawned process; its output back, or its exception raised here."""
    ctx = multiprocessing.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, os.getpid(), str(home), task), name=f"workbench-{task['kind']}")
    proc.start()
    send.close()
    try:
        try:
            msg = recv.recv()
        except EOFError:
            proc.join()
            raise AblationError(f"the {task['kind']} task's process ended (exit code {proc.exitcode}) without a "
                                "result; a negative code is the signal that killed it (-9: out of memory?)") from None
        proc.join()
    except BaseException:  # Ctrl-C (or any error here): the child must not outlive the task
        if proc.is_alive():
            proc.terminate()
            proc.join(10)
        raise
    finally:
        recv.close()
    if msg[0] == "ok":
        return msg[1]
    _, payload, text, tb = msg
    if payload is None:
        raise TaskProcessError(f"{text}\n\nin the task's process:\n{tb}")
    err = pickle.loads(payload)
    err.add_note(f"in the task's process:\n{tb}")
    raise err


class LocalExecutor:
    """Runs tasks one by one on this machine: in this process, or with `isolate=True` the train
    and eval tasks (a model each) in a child process each, with `resources`' num_cpus as its
    thread count where given (otherwise torch's default: every core)."""

    def __init__(self, isolate: bool = False, resources: ResourcesSpec | None = None):
        self.isolate = isolate
        self.resources = resources or ResourcesSpec()

    def run(self, ws: Workspace, task: Task) -> TaskOutput:
        if self.isolate and task.kind in ISOLATED_KINDS:
            threads = getattr(self.resources, task.kind).num_cpus
            return parse_output(task.kind, run_in_child(ws.home, {**task.to_dict(), "threads": threads}))
        return parse_output(task.kind, execute(ws.home, task.to_dict()))


def make_executor(name: str, address: str | None = None, resources: ResourcesSpec | None = None,
                  isolate: bool = True):
    """The executor called `name` (the CLI's --executor): "local" or "ray"."""
    if name == "local":
        if address:
            raise AblationError("--address is for --executor ray")
        return LocalExecutor(isolate=isolate, resources=resources)
    if name == "ray":
        from workbench.ablate.ray_executor import RayExecutor, ray_module

        ray_module()  # fail now, not at the first task, if Ray is not installed
        return RayExecutor(address=address, resources=resources, isolate=isolate)
    raise AblationError(f"unknown executor {name!r}; known: local, ray")
