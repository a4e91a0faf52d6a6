"""The runner: every task of an ablation in order, skipping what is done.

A task's outputs are files plus catalog rows written by the step itself, and one
`ablation_tasks` row that says it is done (with the step's typed output as JSON). So:

- a second call finds every task done and does nothing new;
- after Ctrl-C or kill -9 the rerun skips finished tasks and re-enters the one that was cut
  off (training resumes from its checkpoint; the steps themselves write rows idempotently);
- a step with the same inputs in another ablation is reused, not redone;
- two processes never run one task at once: each task runs under its lease (ablate/lease.py),
  and a second process waits for it, then finds it done.
"""

from __future__ import annotations

import dataclasses
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from workbench.ablate.estimate import Estimator, Planned, Work, plan, prior_seconds
from workbench.ablate.executors import LocalExecutor
from workbench.ablate.lease import TaskLease
from workbench.ablate.outputs import TaskOutput, parse_output
from workbench.ablate.shared import shared_runs
from workbench.ablate.spec import AblationSpec, SpecError, load_spec
from workbench.ablate.tasks import BASE, Task, build_task, content_hash, eval_task, train_configs, train_task
from workbench.train.config import TrainConfig
from workbench.core.progress import TaskBoard, fmt_s, task_output
from workbench.core.workspace import Workspace


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


class Runner:
    """Runs the tasks in order. `quiet`: each task's output (and its child process's) goes to a log
    under WORKBENCH_HOME/logs/ABLATION/; `board` draws the live display (else `log` gets one line
    per finished task)."""

    def __init__(self, ws: Workspace, spec: AblationSpec, executor=None, log: Callable[[str], None] | None = None,
                 spec_path: str | None = None, quiet: bool = False, board: TaskBoard | None = None,
                 tail_s: float = 0.0, configs: dict[str, TrainConfig] | None = None):
        self.ws, self.spec = ws, spec
        self.configs = configs if configs is not None else train_configs(spec)  # per variant, resolved once
        self.executor = executor or LocalExecutor()
        self.log = log or (lambda msg: None)
        self.spec_path = spec_path
        self.quiet, self.board = quiet, board
        self.run_record = AblationRun(spec.name)
        self.t0 = time.monotonic()
        self.n_seen = 0
        self.plan: dict[tuple, Planned] = {}
        self.estimator = Estimator(tail_s=tail_s)  # tail_s: what follows the last task (summary, report)

    @property
    def total(self) -> int:
        return len(self.plan)

    def say(self, line: str) -> None:
        if self.board is not None:
            self.board.end(line)
        else:
            self.log(line)

    def _left(self, key: tuple, current: Work | None = None, elapsed: float = 0.0, fraction: float | None = None) -> float:
        keys = list(self.plan)
        rest = [p.work for p in list(self.plan.values())[keys.index(key) + 1:]] if key in self.plan else []
        return self.estimator.left(rest, current, elapsed, fraction)

    def _price_trains(self, v, version: str) -> None:
        """Once a variant's data is built, its trainings are priced from the built rows (their
        tokens), not from the size of the source files the plan had to go by."""
        cat = self.ws.catalog()
        for seed in self.spec.seeds_for(v.name):
            p = self.plan.get(("train", v.name, seed))
            if p is not None and p.state == "waits":
                # priced by the effective batch, which a memory split keeps: no plan needed here (the
                # plan's imports would wait in line between the builds; the task plans when it runs)
                inputs = train_task(self.spec, v.name, version, seed, self.configs[v.name]).inputs.to_dict()
                self.plan[p.key] = dataclasses.replace(p, work=Work("train", p.label, prior_seconds("train", inputs, cat)))

    def drop(self, *keys: tuple) -> None:
        """Tasks that will not run (their build or training failed)."""
        for k in keys:
            self.plan.pop(k, None)

    def _execute(self, task: Task, key: tuple, work: Work):
        logs = self.ws.subdir("logs", self.spec.name)
        log_path = logs / f"{task.id}.log" if self.quiet else None
        progress_path = logs / f"{task.id}.progress"
        progress_path.unlink(missing_ok=True)
        if self.board is not None:
            self.board.begin(f"[{self.n_seen}/{self.total}] {task.label}", progress_path,
                             lambda fraction, elapsed: self._left(key, work, elapsed, fraction))
        with task_output(log_path, progress_path):
            if log_path is not None:
                print(f"== {task.label} ({task.id})", flush=True)
            return self.executor.run(self.ws, task), log_path

    def run_task(self, task: Task, key: tuple | None = None) -> Outcome:
        """Run one task under its lease: while another process runs it, wait; then it is found done."""
        with TaskLease(self.ws.catalog(), task.id, self.spec.name, task.label, log=self.say):
            return self._run_task(task, key)

    def _run_task(self, task: Task, key: tuple | None = None) -> Outcome:
        cat = self.ws.catalog()
        name = self.spec.name
        key = key or (task.kind, task.variant, task.seed)
        planned = self.plan.get(key)
        if planned is None or planned.task_id != task.id:  # its id is known now: the prior from the built data
            work = Work(task.kind, task.label, prior_seconds(task.kind, task.inputs.to_dict(), cat))
            self.plan[key] = Planned(key, task.label, "to run", work, task.id)
        work = self.plan[key].work
        self.n_seen += 1
        prefix = f"[{self.n_seen}/{self.total}] {task.label}"
        row = cat.get_task(name, task.id)
        log_path = None
        lost = None
        if row and row["status"] == "done" and (lost := _lost_output(self.ws, parse_output(task.kind, row["output"]))):
            self.say(f"{prefix}: done before, but {lost}: running it again")
            row = {**row, "status": "failed"}
        if row and row["status"] == "done":
            outcome = Outcome(task, "cached", parse_output(task.kind, row["output"]))
        elif not lost and (other := cat.find_done_task(task.id)) is not None and \
                not _lost_output(self.ws, parse_output(task.kind, other["output"])):
            outcome = Outcome(task, "reused", parse_output(task.kind, other["output"]))
            cat.task_reused(name, task.id, task.kind, task.variant, task.seed, task.label, task.inputs.to_dict(), other["output"])
        else:
            if row and row["status"] in ("interrupted", "failed"):
                self.say(f"{prefix}: retrying ({row['status']} before)")
            cat.task_started(name, task.id, task.kind, task.variant, task.seed, task.label,
                             {**task.inputs.to_dict(), **({"hashed": h} if (h := task.inputs.hashed()) else {})})
            start = time.monotonic()
            try:
                output, log_path = self._execute(task, key, work)
            except KeyboardInterrupt:
                if self.board is not None:
                    self.board.close()
                cat.task_failed(name, task.id, "interrupted", time.monotonic() - start, status="interrupted")
                raise
            except Exception as e:  # noqa: BLE001 - a failed step is recorded; the others go on
                wall = time.monotonic() - start
                msg = f"{type(e).__name__}: {e}"
                cat.task_failed(name, task.id, msg + "\n\n" + traceback.format_exc(limit=8), wall)
                outcome = Outcome(task, "failed", error=msg, wall_s=wall)
                log_path = self.ws.home / "logs" / name / f"{task.id}.log" if self.quiet else None
            else:
                wall = time.monotonic() - start
                cat.task_done(name, task.id, output.to_dict(), wall)
                outcome = Outcome(task, "done", output, wall_s=wall)
                self.estimator.observe(task.kind, work.prior_s, wall)
        elapsed = fmt_s(time.monotonic() - self.t0)
        if outcome.status == "failed":
            status = f"FAILED after {fmt_s(outcome.wall_s)}: {outcome.error.splitlines()[0][:300]}"
            if log_path is not None:
                status += f" (its output: {log_path})"
        elif outcome.status == "done":
            status = f"done in {fmt_s(outcome.wall_s)}"
        else:
            status = "cached" if outcome.status == "cached" else "reused from an earlier ablation"
        self.say(f"{prefix}: {status}  (elapsed {elapsed}, ~{fmt_s(self._left(key))} left)")
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
        cat.save_ablation(spec.name, spec.model_dump(mode="json"), content_hash(spec.model_dump(mode="json")), self.spec_path)
        self.plan = {p.key: p for p in plan(self.ws, spec, self.configs)}
        try:
            return self._run_all()
        finally:
            if self.board is not None:
                self.board.close()

    def _run_all(self) -> AblationRun:
        spec = self.spec
        built: dict[str, str] = {}

        def build(v) -> None:
            try:
                task = build_task(spec, v)
            except (OSError, SpecError) as e:  # a source or recipe file that cannot be read now
                self.drop(("build", v.name, None))
                self.say(f"build {v.name}: cannot read its inputs: {e}")
                return
            o = self.run_task(task)
            if o.status != "failed":
                built[v.name] = o.output.version
                self._price_trains(v, o.output.version)
            else:  # its trains and evals will not run
                for seed in spec.seeds_for(v.name):
                    self.drop(("train", v.name, seed), ("eval", v.name, seed))

        order: list = []  # variants in train order whose data built (set after the builds)

        def root(v) -> str:  # the variant a `from` chain starts at
            while v.from_:
                v = spec.variant(v.from_)
            return v.name

        def train_and_eval(job) -> None:
            """The base model's eval, or one seed of a chain: a variant, then those trained `from` it."""
            if job is None:
                self.run_task(eval_task(spec, BASE, None, spec.base))
                return
            first, seed = job
            trained: dict[str, str] = {}  # variant -> this seed's run id, for variants trained `from` it
            for v in order:
                if root(v) != first or seed not in spec.seeds_for(v.name):
                    continue
                init = trained.get(v.from_) if v.from_ else None
                if v.from_ and init is None:
                    self.say(f"train {v.name} seed {seed}: skipped, {v.from_} seed {seed} has no finished run to start from")
                    self.drop(("train", v.name, seed), ("eval", v.name, seed))
                    continue
                o = self.run_task(train_task(spec, v.name, built[v.name], seed, self.configs[v.name], init, ws=self.ws))
                if o.status == "failed":
                    self.drop(("eval", v.name, seed))
                    continue
                trained[v.name] = o.output.run_id
                self.run_task(eval_task(spec, v.name, seed, o.output.run_id))

        self._each(build, spec.variants)
        order = [v for v in spec.train_order() if v.name in built]
        self._each(train_and_eval, [None] + [(v.name, seed) for v in order if not v.from_
                                             for seed in spec.seeds_for(v.name)])
        return self.run_record


def prepare(spec_or_path: AblationSpec | str | os.PathLike, spec_path: str | None = None) -> tuple[AblationSpec, str | None]:
    """The spec (loaded once) and the file it came from."""
    if isinstance(spec_or_path, AblationSpec):
        return spec_or_path, spec_path
    return load_spec(spec_or_path), str(Path(spec_or_path).resolve())


def _lost_output(ws: Workspace, output) -> str | None:
    """What a done task's output lost on disk since (a deleted adapter or body), or None."""
    adapter = getattr(output, "adapter_dir", None)
    if adapter and not (Path(adapter) / "adapter_config.json").is_file():
        return f"its adapter {adapter} is missing"
    version = getattr(output, "version", None)  # a build's output (a train's names its adapter instead)
    if version:
        cat = ws.catalog()
        row = cat.resolve_version(version) if cat.version_exists(version) else None
        if row and row.get("path") and not (ws.home / row["path"]).is_file():
            return f"the body of dataset version {version} is missing"
    return None


def run_ablation(ws: Workspace, spec_or_path, executor=None, log: Callable[[str], None] | None = None,
                 quiet: bool = False, board: TaskBoard | None = None, tail_s: float = 0.0,
                 spec_path: str | None = None) -> AblationRun:
    """Run (or resume) every task of an ablation; failures are recorded, not raised.

    `quiet`: every task's output goes to its log file (see Runner); `board`: a live display;
    `tail_s`: what the caller does after the last task (its summary, the report), for the ETA;
    `spec_path`: where a spec given as an object was loaded from."""
    spec, path = prepare(spec_or_path, spec_path)
    configs = train_configs(spec)  # every variant's train config, resolved once: a bad one fails before any work
    return Runner(ws, spec, executor=executor, log=log, spec_path=path, quiet=quiet, board=board,
                  tail_s=tail_s, configs=configs).run()


def status(ws: Workspace, name: str) -> dict:
    """What is done, running, interrupted or failed, per task, and what is still to come.
    `shared` counts the variant seeds that reuse another variant's run (the same data)."""
    cat = ws.catalog(reader=True)
    abl = cat.get_ablation(name)
    tasks = cat.ablation_tasks(name)
    spec = AblationSpec.model_validate(abl["spec"])
    failed = {t["variant"] for t in tasks if t["kind"] == "build" and t["status"] == "failed"}
    expected = len(spec.variants) + 1 + sum(2 * len(spec.seeds_for(v.name)) for v in spec.variants if v.name not in failed)
    counts: dict[str, int] = {}
    for t in tasks:
        counts[t["status"]] = counts.get(t["status"], 0) + 1
    shared = shared_runs(abl["spec"], tasks)  # a variant seed whose data is another's: one train and eval row for both
    if shared:
        counts["shared"] = len(shared)
    counts["not started"] = max(0, expected - 2 * len(shared) - len(tasks))
    return {"name": name, "spec_path": abl["spec_path"], "updated": abl["updated"], "tasks": tasks, "counts": counts}
