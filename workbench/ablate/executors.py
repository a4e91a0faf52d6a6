"""Where a task runs. `execute(home, task)` runs one task from plain data and returns plain data,
so a distributed engine (a Ray remote function per task, accelerate for one training task) can
take the place of `LocalExecutor` without changing the steps.

`LocalExecutor(isolate=True)` runs train and eval tasks in another process: by default a warm
worker (worker.py: one long-lived process with torch imported, replaced after a failure and
recycled past its memory bound), with `warm=False` a fresh child per task ("spawn"). Either way
the task goes in as plain data (`Task.to_dict`) and the output comes back as plain data, a
failure is re-raised in the parent (same type where it can be pickled) with the traceback of the
task's process attached, Ctrl-C stops that process and reaches the runner, which marks the task
interrupted, and a process whose parent dies (kill -9) stops itself.

A task dict may carry `threads` (from the spec's `resources`): the task's process then uses that
many torch / OMP / MKL threads, so tasks sharing a machine share its cores instead of each
taking all of them; and `sanity` (False: training skips its sanity generations, train/sanity.py). `execute_detached` runs a task against a private copy of the catalog and
returns its rows as a delta (catalog/journal.py): how a cluster worker runs (ray_executor.py).
"""

from __future__ import annotations

import multiprocessing
import os
import threading

from workbench.ablate.outputs import TaskOutput, parse_output
from workbench.ablate.spec import ResourcesSpec
from workbench.ablate.execute import ISOLATED_KINDS, THREAD_VARS, execute, execute_detached, set_threads  # noqa: F401
from workbench.ablate.tasks import AblationError, Task
from workbench.ablate.worker import TaskProcessError, WarmWorker, error_message, exit_with_parent, raise_error  # noqa: F401
from workbench.core.workspace import Workspace



def _child(conn, parent: int, home: str, task: dict) -> None:
    threading.Thread(target=exit_with_parent, args=(parent,), daemon=True).start()
    try:
        conn.send(("ok", execute(home, task)))
    except BaseException as e:  # noqa: BLE001 - everything goes back to the parent
        conn.send(error_message(e))
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
    raise_error(msg)


class LocalExecutor:
    """Runs tasks one by one on this machine: in this process, or with `isolate=True` the train
    and eval tasks (a model each) in another process, with `resources`' num_cpus as its thread
    count where given (otherwise torch's default: every core). That process is a warm worker
    (worker.py: one long-lived process, torch imported once, replaced after a failure, recycled
    past its memory bound), or with `warm=False` a fresh child per task. `sanity`: whether
    training runs its sanity generations (off in ablations unless `ablate --sanity`)."""

    def __init__(self, isolate: bool = False, resources: ResourcesSpec | None = None, warm: bool = True,
                 sanity: bool = False):
        self.isolate, self.warm, self.sanity = isolate, warm, sanity
        self.resources = resources or ResourcesSpec()
        self.worker: WarmWorker | None = None

    def _wire(self, task: Task) -> dict:
        return {**task.to_dict(), "sanity": self.sanity}

    def run(self, ws: Workspace, task: Task) -> TaskOutput:
        if not (self.isolate and task.kind in ISOLATED_KINDS):
            if self.isolate and self.warm:  # a build: the worker imports torch meanwhile
                self._worker(ws).start()
            return parse_output(task.kind, execute(ws.home, self._wire(task)))
        payload = {**self._wire(task), "threads": getattr(self.resources, task.kind).num_cpus}
        if not self.warm:
            return parse_output(task.kind, run_in_child(ws.home, payload))
        return parse_output(task.kind, self._worker(ws).run(payload))

    def _worker(self, ws: Workspace) -> WarmWorker:
        if self.worker is None or self.worker.home != str(ws.home):
            if self.worker is not None:
                self.worker.close()
            self.worker = WarmWorker(ws.home)
        return self.worker

    def close(self) -> None:
        """Stop the warm worker (it also stops when this process exits or dies)."""
        if self.worker is not None:
            self.worker.close()


def make_executor(name: str, address: str | None = None, resources: ResourcesSpec | None = None,
                  isolate: bool = True, warm: bool = True, sanity: bool = False):
    """The executor called `name` (the CLI's --executor): "local" or "ray". `warm`: model tasks in
    long-lived workers (False: a fresh process each); `sanity`: trainings run their sanity
    generations (an ablation leaves them out unless asked: `ablate --sanity`)."""
    if name == "local":
        if address:
            raise AblationError("--address is for --executor ray")
        return LocalExecutor(isolate=isolate, resources=resources, warm=warm, sanity=sanity)
    if name == "ray":
        from workbench.ablate.ray_executor import RayExecutor
        from workbench.core.device import ray_module

        ray_module()  # fail now, not at the first task, if Ray is not installed
        return RayExecutor(address=address, resources=resources, isolate=isolate, warm=warm, sanity=sanity)
    raise AblationError(f"unknown executor {name!r}; known: local, ray")
