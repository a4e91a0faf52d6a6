"""Running one task from plain data: `execute(home, task)` returns plain data, so any process
(a warm worker, a fresh child, a Ray worker) runs a task the same way; `execute_detached` runs it
against a private copy of the catalog and returns the rows it wrote as a delta (catalog/journal.py),
how a cluster worker runs. The executors (executors.py, ray_executor.py) and the warm worker
(worker.py) stand on this module, never on each other."""

from __future__ import annotations

import dataclasses
import os
import socket
import tempfile
from pathlib import Path

from workbench.ablate.inputs import parse_inputs
from workbench.ablate.steps import run_step
from workbench.core.catalog.journal import diff
from workbench.core.workspace import DetachedWorkspace, Workspace
from workbench.train.sanity import switched as sanity_switched

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
    with sanity_switched(task.get("sanity", True)):
        out = run_step(ws, parse_inputs(task["kind"], task["inputs"], task.get("hashed")))
    return dataclasses.replace(out, where=where or socket.gethostname()).to_dict()


def execute_detached(home: str | os.PathLike, task: dict, catalog: bytes, where: str | None = None):
    """`execute` against a private copy of the catalog (`catalog`: the driver's snapshot); returns
    (output, delta): the rows the step wrote, for the driver to apply. The workspace's own catalog
    is never opened here; its artefact folders (data, runs) are written as usual."""
    with tempfile.TemporaryDirectory(prefix="workbench-task-") as tmp:
        before, after = Path(tmp) / "before.duckdb", Path(tmp) / "after.duckdb"
        before.write_bytes(catalog)
        after.write_bytes(catalog)
        ws = DetachedWorkspace(Path(home), catalog_file=after)
        out = execute(home, task, ws=ws, where=where)
        return out, diff(before, after)
