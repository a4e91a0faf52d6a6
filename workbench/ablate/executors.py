"""Where a task runs. `execute(home, task)` runs one task from plain data and returns plain data,
so a distributed engine (a Ray remote function per task, accelerate for one training task) can
take the place of `LocalExecutor` without changing the steps.

`LocalExecutor(isolate=True)` runs train and eval tasks each in a fresh child process ("spawn"):
the task goes in as plain data, the output comes back as plain data, and the model's memory goes back to the
system when the child exits, so a long ablation holds one model at a time. A child's exception is
re-raised in the parent (same type where it can be pickled) with the child's traceback attached;
Ctrl-C stops the child and reaches the runner, which marks the task interrupted; a child whose
parent dies (kill -9) stops itself.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import threading
import time
import traceback
from pathlib import Path

from workbench.ablate.outputs import TaskOutput, parse_output
from workbench.ablate.steps import STEPS
from workbench.ablate.tasks import AblationError, Task
from workbench.workspace import Workspace

ISOLATED_KINDS = frozenset({"train", "eval"})  # the tasks that load a model


def execute(home: str | os.PathLike, task: dict) -> dict:
    """Run one task from plain data and return its output (also plain data)."""
    ws = Workspace(Path(home))
    return STEPS[task["kind"]](ws, task["inputs"]).to_dict()


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
    and eval tasks (a model each) in a child process each."""

    def __init__(self, isolate: bool = False):
        self.isolate = isolate

    def run(self, ws: Workspace, task: Task) -> TaskOutput:
        run = run_in_child if self.isolate and task.kind in ISOLATED_KINDS else execute
        return parse_output(task.kind, run(ws.home, task.to_dict()))
