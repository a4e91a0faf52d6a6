"""`RayExecutor`: an ablation's tasks as Ray tasks, on a local Ray instance or a cluster
(`workbench ablate SPEC --executor ray [--address ADDR]`; needs the `ray` extra).

The contract between the driver (the `workbench ablate` process) and the workers:

- **Artefacts** (dataset bodies, adapters, checkpoints, eval outputs) are written by the workers
  into the workspace folder, which every node must see at the same path (a shared filesystem).
- **The catalog is written by the driver only.** A worker never opens it: the driver sends each
  task a snapshot of the catalog; the worker runs the step against a private copy and returns
  the task's typed output plus the rows the step wrote (`catalog.journal.CatalogDelta`); the
  driver applies them in one transaction, then the runner records the task as done.
- **The graph** is the runner's: every build at once; then the base model's eval and every
  (variant, seed) train -> eval chain at once. Ray places each task by its resources (the spec's
  `resources`, or the CLI's `--num-cpus` / `--num-gpus`): by default 1 CPU per task, and on a
  cluster with GPUs 1 GPU per train and eval task. A task uses as many torch / OMP / MKL threads
  as the CPUs it asked for.
- Train and eval tasks run in warm Ray workers, as the local executor's do (worker.py): a worker
  process imports torch once and runs up to `max_tasks` model tasks one at a time
  (WORKBENCH_WORKER_MAX_TASKS, default 8: Ray's `max_calls`, after which Ray starts a fresh
  one), holding one model at a time; the peak RSS is reset before each task, so a run's recorded
  peak is its own, and CUDA's cache is emptied after it. `warm=False` (`ablate
  --fresh-processes`) is the old `max_calls=1`: a fresh process per model task. Unlike the local
  executor's worker, a Ray worker whose task raised is not replaced at once (Ray keeps it; it is
  replaced at its `max_calls`); a worker that crashes is replaced by Ray. Workers run at the
  normal priority (Ray's default niceness of 15 starves them on a machine that does anything else).

The runner's bookkeeping (catalog reads, task rows, logging) runs in the driver, one call at a
time (a lock, released while a task runs on Ray), so resume, failure isolation per variant and
the "nothing new to do" rerun are the local executor's own.

`RayExecutor.timings` keeps, per task run, where its time went (`TaskTiming`: the catalog
snapshot, the wait for resources and a worker, a fresh worker's imports, the step, the trip back,
applying the rows): what benchmarks/ray.py reports as the executor's overhead.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from workbench.ablate.execute import ISOLATED_KINDS, execute_detached
from workbench.ablate.worker import MAX_TASKS_ENV, limit, reset_peak
from workbench.ablate.outputs import TaskOutput, parse_output
from workbench.ablate.spec import ResourcesSpec
from workbench.ablate.tasks import AblationError, Task
from workbench.core.device import ray_module
from workbench.core.workspace import Workspace

POLL_S = 0.5
# Ray runs its workers at niceness 15 by default: on a machine with other work they then get a
# sliver of the CPU (measured: 7 s of CPU in 6 minutes at load 7 on 2 cores). A local instance
# runs them at 0, as the local executor's child processes; a cluster sets RAY_worker_niceness=0.
WORKER_NICENESS = 0


@dataclass(frozen=True)
class TaskTiming:
    """Where one Ray task's time went, in seconds (driver and worker clocks: one machine's, or a
    cluster's synchronised ones)."""

    label: str
    kind: str
    fresh_worker: bool  # torch not imported yet in its worker (a new process: the first model task of each worker)
    snapshot_s: float  # driver: the catalog snapshot sent with the task
    wait_s: float  # submitted -> the worker began: free resources, a worker process, importing workbench
    imports_s: float  # worker: torch + transformers, where this worker had not imported them yet
    step_s: float  # worker: the step, on a private catalog copy, and the rows it wrote as a delta
    back_s: float  # worker done -> the driver holds the result (and its lock: one thread of bookkeeping at a time)
    apply_s: float  # driver: writing the task's rows into the catalog

    @property
    def overhead_s(self) -> float:
        """What the task cost beyond its step (and the imports any fresh process pays)."""
        return self.snapshot_s + self.wait_s + self.back_s + self.apply_s


def _on_worker(home: str, task: dict, catalog: bytes, submitted: float):
    """The body of every Ray task: run the step detached from the catalog, say where it ran."""
    import ray

    began = time.time()
    fresh = "torch" not in sys.modules
    if task["kind"] in ISOLATED_KINDS:
        import torch  # noqa: F401 - timed apart: what a fresh worker pays before a model task
        import transformers  # noqa: F401
        reset_peak()  # a warm worker: the run's recorded peak is this task's own
    imported = time.time()
    ctx = ray.get_runtime_context()
    where = f"{socket.gethostname()} (ray node {ray.util.get_node_ip_address()} {ctx.get_node_id()[:8]}, pid {os.getpid()})"
    try:
        output, delta = execute_detached(home, task, catalog, where=where)
    finally:
        if task["kind"] in ISOLATED_KINDS and torch.cuda.is_available():
            torch.cuda.empty_cache()  # the next task in this worker starts with the GPU's memory free
    times = {"fresh_worker": fresh, "wait_s": began - submitted, "imports_s": imported - began,
             "step_s": time.time() - imported, "done": time.time()}
    return output, delta, times


class RayExecutor:
    """Runs an ablation's tasks on Ray. `address`: an existing cluster ("auto", "ray://...",
    "HOST:PORT"); None starts a local instance with `num_cpus` cores (default: all)."""

    def __init__(self, address: str | None = None, resources: ResourcesSpec | None = None,
                 num_cpus: int | None = None, isolate: bool = True, warm: bool = True, sanity: bool = False,
                 max_tasks: int | None = None):
        self.address, self.num_cpus, self.isolate, self.sanity = address, num_cpus, isolate, sanity
        self.max_tasks = 1 if not warm else int(max_tasks or limit(MAX_TASKS_ENV, 0) or 8)
        self.resources = resources or ResourcesSpec()
        self._lock = threading.Lock()
        self._held = threading.local()
        self._stop = threading.Event()
        self._remote = None
        self._gpus = 0.0
        self.timings: list[TaskTiming] = []

    # --- Ray ---------------------------------------------------------------------------
    def _start(self):
        ray = ray_module()
        if not ray.is_initialized():
            kw = {"address": self.address} if self.address else {
                "num_cpus": self.num_cpus, "include_dashboard": False, "object_store_memory": 256 * 1024 ** 2,
                "_system_config": {"worker_niceness": WORKER_NICENESS}}
            ray.init(log_to_driver=False, configure_logging=False, **kw)
        if self._remote is None:  # max_calls is fixed per remote function: one for model tasks, one for builds
            self._remote = {True: ray.remote(max_calls=self.max_tasks)(_on_worker), False: ray.remote(_on_worker)}
            self._gpus = float(ray.cluster_resources().get("GPU", 0.0))
        return ray

    def options(self, kind: str) -> dict:
        """The Ray options of a task of this kind: its resources."""
        r = getattr(self.resources, kind)
        gpus = r.num_gpus if r.num_gpus is not None else (1.0 if self._gpus and kind in ISOLATED_KINDS else 0.0)
        return {"num_cpus": r.num_cpus or 1, "num_gpus": gpus, "max_retries": 0}

    def _wait(self, ray, ref):
        """The task's result; the driver's lock is free meanwhile, so other tasks' bookkeeping runs."""
        held = getattr(self._held, "value", False)
        if held:
            self._lock.release()
        try:
            while not ray.wait([ref], timeout=POLL_S)[0]:
                if self._stop.is_set():
                    raise KeyboardInterrupt
            return ray.get(ref)
        except BaseException as e:
            if isinstance(e, ray.exceptions.RayTaskError) and isinstance(e.cause, Exception):
                # what ray.get raises is a RayTaskError(CauseType) copy: no traceback_str, str() has it
                e.cause.add_note(f"in the Ray task:\n{getattr(e, 'traceback_str', None) or e}")
                raise e.cause from None
            if isinstance(e, ray.exceptions.RayError):
                raise AblationError(f"the Ray task failed: {type(e).__name__}: {e}") from None
            ray.cancel(ref, force=True)
            raise
        finally:
            if held:
                self._lock.acquire()

    # --- the executor interface ----------------------------------------------------------
    def run(self, ws: Workspace, task: Task) -> TaskOutput:
        from workbench.core.catalog.journal import apply, snapshot

        ray = self._start()
        cat = ws.catalog()
        opts = self.options(task.kind)
        payload = {**task.to_dict(), "threads": opts["num_cpus"], "sanity": self.sanity}
        remote = self._remote[self.isolate and task.kind in ISOLATED_KINDS]  # a (warm) worker for a model
        t0 = time.time()
        catalog = snapshot(cat)
        submitted = time.time()
        ref = remote.options(name=task.label, **opts).remote(str(ws.home), payload, catalog, submitted)
        output, delta, times = self._wait(ray, ref)
        got = time.time()
        apply(cat, delta)  # the driver writes the task's catalog rows
        done = times.pop("done")
        self.timings.append(TaskTiming(task.label, task.kind, snapshot_s=submitted - t0, back_s=got - done,
                                       apply_s=time.time() - got, **times))
        return parse_output(task.kind, output)

    def map(self, fn: Callable, items: list) -> None:
        """`fn` on every item at once, each in a driver thread; one thread runs driver code at a time."""
        if not items:
            return
        self._start()  # in the calling (main) thread: Ray sets signal handlers there
        self._stop.clear()

        def one(item):
            with self._lock:
                self._held.value = True
                try:
                    fn(item)
                finally:
                    self._held.value = False

        with ThreadPoolExecutor(max_workers=len(items), thread_name_prefix="workbench-ray") as pool:
            futures = [pool.submit(one, item) for item in items]
            try:
                for f in futures:
                    f.result()
            except BaseException:
                self._stop.set()  # Ctrl-C or a bug: the other tasks stop too (marked interrupted)
                raise
