"""The runner: every task of an ablation in order, skipping what is done.

A task's outputs are files plus catalog rows written by the step itself, and one
`ablation_tasks` row that says it is done (with the step's typed output as JSON). So:

- a second call finds every task done and does nothing new;
- after Ctrl-C or kill -9 the rerun skips finished tasks and re-enters the one that was cut
  off (training resumes from its checkpoint; the steps themselves write rows idempotently);
- a step with the same inputs in another ablation is reused, not redone.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from workbench.ablate.executors import LocalExecutor
from workbench.ablate.outputs import TaskOutput, parse_output
from workbench.ablate.spec import AblationSpec, load_spec
from workbench.ablate.tasks import (BASE, AblationError, Task, build_task, content_hash, eval_task,
                                    resolved_train_config, train_task)
from workbench.workspace import Workspace


@dataclass
class Outcome:
    task: Task
    status: str  # done | cached | reused | failed
    output: TaskOutput | None = None
    error: str | None = None
    wall_s: float = 0.0


@dataclass
class AblationRun:
    name: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def n_new(self) -> int:
        return sum(o.status == "done" for o in self.outcomes)


def _fmt_s(s: float) -> str:
    s = int(round(s))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class Runner:
    def __init__(self, ws: Workspace, spec: AblationSpec, executor=None, log: Callable[[str], None] | None = None,
                 spec_path: str | None = None):
        self.ws, self.spec = ws, spec
        self.executor = executor or LocalExecutor()
        self.log = log or (lambda msg: None)
        self.spec_path = spec_path
        self.run_record = AblationRun(spec.name)
        self.t0 = time.monotonic()
        self.total = sum(1 + 2 * len(spec.seeds_for(v.name)) for v in spec.variants) + 1
        self.n_seen = 0
        self.spent: dict[str, list[float]] = {}  # wall times of tasks run now, by kind (for the estimate)

    def _eta(self, remaining: dict[str, int]) -> str:
        all_times = [t for ts in self.spent.values() for t in ts]
        if not all_times:
            return "estimate after the first step"
        fallback = sum(all_times) / len(all_times)
        est = sum(n * (sum(self.spent[k]) / len(self.spent[k]) if self.spent.get(k) else fallback)
                  for k, n in remaining.items())
        return f"~{_fmt_s(est)} left"

    def run_task(self, task: Task, remaining_after: dict[str, int]) -> Outcome:
        cat = self.ws.catalog()
        name = self.spec.name
        self.n_seen += 1
        prefix = f"[{self.n_seen}/{self.total}] {task.label}"
        row = cat.get_task(name, task.id)
        if row and row["status"] == "done":
            outcome = Outcome(task, "cached", parse_output(task.kind, row["output"]))
        elif (other := cat.find_done_task(task.id)) is not None:
            outcome = Outcome(task, "reused", parse_output(task.kind, other["output"]))
            cat.task_reused(name, task.id, task.kind, task.variant, task.seed, task.label, task.inputs, other["output"])
        else:
            if row and row["status"] in ("interrupted", "failed"):
                self.log(f"{prefix}: retrying ({row['status']} before)")
            cat.task_started(name, task.id, task.kind, task.variant, task.seed, task.label,
                             {**task.inputs, **({"hashed": task.hashed} if task.hashed else {})})
            start = time.monotonic()
            try:
                output = self.executor.run(self.ws, task)
            except KeyboardInterrupt:
                cat.task_failed(name, task.id, "interrupted", time.monotonic() - start, status="interrupted")
                raise
            except Exception as e:  # noqa: BLE001 - a failed step is recorded; the others go on
                wall = time.monotonic() - start
                msg = f"{type(e).__name__}: {e}"
                cat.task_failed(name, task.id, msg + "\n\n" + traceback.format_exc(limit=8), wall)
                outcome = Outcome(task, "failed", error=msg, wall_s=wall)
            else:
                wall = time.monotonic() - start
                cat.task_done(name, task.id, output.to_dict(), wall)
                outcome = Outcome(task, "done", output, wall_s=wall)
                self.spent.setdefault(task.kind, []).append(wall)
        elapsed = _fmt_s(time.monotonic() - self.t0)
        if outcome.status == "failed":
            status = f"FAILED after {_fmt_s(outcome.wall_s)}: {outcome.error.splitlines()[0][:300]}"
        elif outcome.status == "done":
            status = f"done in {_fmt_s(outcome.wall_s)}"
        else:
            status = "cached" if outcome.status == "cached" else "reused from an earlier ablation"
        self.log(f"{prefix}: {status}  (elapsed {elapsed}, {self._eta(remaining_after)})")
        self.run_record.outcomes.append(outcome)
        return outcome

    def _each(self, fn: Callable, items: list) -> None:
        """`fn` on every item: in order, or concurrently where the executor can (`RayExecutor.map`,
        which lets one call of the runner's bookkeeping run at a time)."""
        each = getattr(self.executor, "map", None)
        if each is not None:
            each(fn, items)
        else:
            for item in items:
                fn(item)

    def run(self) -> AblationRun:
        spec = self.spec
        cat = self.ws.catalog()
        try:
            live = [t for t in cat.ablation_tasks(spec.name) if t["status"] == "running" and t["pid"] != os.getpid()]
        except Exception:  # noqa: BLE001 - first run: no rows yet
            live = []
        if live:
            raise AblationError(f"ablation {spec.name!r} is already running in process {live[0]['pid']} "
                                f"({live[0]['label']}); wait for it or stop it first")
        cat.save_ablation(spec.name, spec.model_dump(mode="json"), content_hash(spec.model_dump(mode="json")), self.spec_path)
        config = resolved_train_config(spec)
        n_runs = sum(len(spec.seeds_for(v.name)) for v in spec.variants)
        remaining = {"build": len(spec.variants), "train": n_runs, "eval": n_runs + 1}

        def after(kind: str) -> dict[str, int]:
            remaining[kind] -= 1
            return dict(remaining)

        built: dict[str, str] = {}

        def build(v) -> None:
            try:
                task = build_task(spec, v)
            except (OSError, yaml.YAMLError) as e:
                self.log(f"build {v.name}: cannot read its inputs: {e}")
                return
            o = self.run_task(task, after("build"))
            if o.status != "failed":
                built[v.name] = o.output.version
            else:  # its trains and evals will not run
                n_seed = len(spec.seeds_for(v.name))
                remaining["train"] -= n_seed
                remaining["eval"] -= n_seed
                self.total -= 2 * n_seed

        def train_and_eval(job) -> None:
            if job is None:
                self.run_task(eval_task(spec, BASE, None, spec.base), after("eval"))
                return
            v, seed = job
            o = self.run_task(train_task(spec, v.name, built[v.name], seed, config), after("train"))
            if o.status == "failed":
                remaining["eval"] -= 1
                self.total -= 1
                return
            self.run_task(eval_task(spec, v.name, seed, o.output.run_id), after("eval"))

        self._each(build, spec.variants)
        self._each(train_and_eval, [None] + [(v, seed) for v in spec.variants if v.name in built
                                             for seed in spec.seeds_for(v.name)])
        return self.run_record


def prepare(spec_or_path: AblationSpec | str | os.PathLike) -> tuple[AblationSpec, str | None]:
    if isinstance(spec_or_path, AblationSpec):
        return spec_or_path, None
    return load_spec(spec_or_path), str(Path(spec_or_path).resolve())


def run_ablation(ws: Workspace, spec_or_path, executor=None, log: Callable[[str], None] | None = None) -> AblationRun:
    """Run (or resume) every task of an ablation; failures are recorded, not raised."""
    spec, path = prepare(spec_or_path)
    resolved_train_config(spec)  # validate before any work
    return Runner(ws, spec, executor=executor, log=log, spec_path=path).run()


def status(ws: Workspace, name: str) -> dict:
    """What is done, running, interrupted or failed, per task, and what is still to come."""
    cat = ws.catalog(reader=True)
    abl = cat.get_ablation(name)
    tasks = cat.ablation_tasks(name)
    spec = AblationSpec.model_validate(abl["spec"])
    failed = {t["variant"] for t in tasks if t["kind"] == "build" and t["status"] == "failed"}
    expected = len(spec.variants) + 1 + sum(2 * len(spec.seeds_for(v.name)) for v in spec.variants if v.name not in failed)
    counts: dict[str, int] = {}
    for t in tasks:
        counts[t["status"]] = counts.get(t["status"], 0) + 1
    counts["not started"] = max(0, expected - len(tasks))
    return {"name": name, "spec_path": abl["spec_path"], "updated": abl["updated"], "tasks": tasks, "counts": counts}
