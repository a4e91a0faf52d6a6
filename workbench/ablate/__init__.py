"""Run an ablation: build each variant's data, train each (variant x seed), evaluate every run
and the untrained base model.

Every step is a `Task` whose id is a content hash of its inputs (the variant's spec and the
bytes of its source files and recipe; the dataset version, base model, resolved train config
and seed; the run or model and the eval settings). A task's outputs are files plus catalog
rows written by the step itself, and one `ablation_tasks` row that says it is done. So:

- a second call finds every task done and does nothing new;
- after Ctrl-C or kill -9 the rerun skips finished tasks and re-enters the one that was cut
  off (training resumes from its checkpoint; the steps themselves write rows idempotently);
- a step with the same inputs in another ablation is reused, not redone.

`execute(home, task)` runs one task from plain data, so a distributed engine (a Ray remote
function per task, accelerate for one training task) can take the place of `LocalExecutor`
without changing the steps.
"""

from __future__ import annotations

from workbench.errors import WorkbenchError

import hashlib
import inspect
import json
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workbench.ablate.spec import AblationSpec, MixSpec, SpecError, VariantSpec, load_spec
from workbench.workspace import Workspace

BASE = "base"  # the variant name of the untrained base model


class AblationError(WorkbenchError, RuntimeError):
    """An ablation that cannot run or report (e.g. nothing evaluated yet); the message says why."""


# --------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------


def content_hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()[:16]


def file_hash(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Task:
    kind: str  # build | train | eval
    variant: str
    seed: int | None
    label: str
    inputs: dict[str, Any]  # everything the step reads; JSON-serialisable
    hashed: dict[str, Any] = field(default_factory=dict)  # extra content that defines identity (file bytes)
    # inputs that locate content rather than define it (source file paths): left out of the id,
    # their content is in `hashed`, so the same files elsewhere give the same task
    located: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        identity = {k: v for k, v in self.inputs.items() if k not in self.located}
        return f"{self.kind}-{content_hash([self.kind, identity, self.hashed])}"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "variant": self.variant, "seed": self.seed, "label": self.label,
                "inputs": self.inputs, "hashed": self.hashed}


def execute(home: str | os.PathLike, task: dict) -> dict:
    """Run one task from plain data and return its output (also plain data)."""
    ws = Workspace(Path(home))
    return STEPS[task["kind"]](ws, task["inputs"])


class LocalExecutor:
    """Runs tasks one by one in this process (a Ray/accelerate executor would submit them)."""

    def run(self, ws: Workspace, task: Task) -> dict:
        return execute(ws.home, task.to_dict())


# --------------------------------------------------------------------------------------
# Steps: each turns its inputs into catalog rows through the area's library call.
# --------------------------------------------------------------------------------------


def _call(fn: Callable, *args, **kwargs):
    """Call `fn`, dropping keyword arguments it does not take (optional knobs like `limit`)."""
    params = inspect.signature(fn).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    return fn(*args, **kwargs)


def _version_of(result) -> Any:
    return getattr(result, "version", result)


def step_build(ws: Workspace, inp: dict) -> dict:
    """Sources -> (concatenate) -> curate -> (synth -> mix): the variant's dataset version."""
    from workbench.data.records import unique_ids
    from workbench.data.store import load_records, save_version

    cat = ws.catalog()
    name = inp["name"]
    out: dict[str, Any] = {"steps": []}
    if inp.get("version"):
        v = cat.resolve_version(inp["version"])
        return {"version": v["id"], "n_rows": v["n_rows"], "steps": [{"step": "version", "version": v["id"]}]}

    sources = []
    for src in inp["sources"]:
        if os.path.exists(src):
            from workbench.data.ingest import ingest

            v = ingest(ws, src, Path(src).stem).version
            sources.append(v.id)
            out["steps"].append({"step": "ingest", "input": src, "version": v.id, "n_rows": v.n_rows})
        else:
            sources.append(cat.resolve_version(src)["id"])
    current = sources[0]
    if len(sources) > 1:
        records = list(unique_ids(r for s in sources for r in load_records(ws, s)))
        v = save_version(ws, records, f"{name}-sources", "concat", parents=[(s, {"ablation_variant": name}) for s in sources])
        current = v.id
        out["steps"].append({"step": "concat", "version": v.id, "n_rows": v.n_rows})

    if inp.get("recipe") is not None:
        from workbench.curate.recipe import curate, load_recipe

        result = curate(ws, current, load_recipe(inp["recipe"]), f"{name}-curated", allow_empty=False)
        current = _version_of(result).id
        out["steps"].append({"step": "curate", "version": current, "summary": _plain(getattr(result, "summary", None))})

    if inp.get("synth") is not None:
        from workbench.synth.think import synthesize

        s = inp["synth"]
        result = _call(synthesize, ws, current, s["mode"], s.get("teacher") or inp["base"], f"{name}-synth",
                       s.get("settings") or {}, limit=s.get("limit"), check_answers=s.get("check_answers", False))
        synth_version = _version_of(result).id
        out["steps"].append({"step": "synth", "version": synth_version, "mode": s["mode"]})

        from workbench.synth.mix import build_mixture

        m = inp["mix"]
        mix_spec = {
            "name": f"{name}-mix",
            "sources": [{"version": current, "weight": m["weights"].get("data", 0.0)},
                        {"version": synth_version, "weight": m["weights"].get("synth", 0.0)}],
            "balance": m["balance"],
            "budget": m.get("budget"),
            "seed": m["seed"],
            "allow_upsample": m.get("allow_upsample", False),
        }
        mixed = build_mixture(ws, mix_spec, f"{name}-mix")
        current = _version_of(mixed).id
        out["steps"].append({"step": "mix", "version": current, "composition": _plain(getattr(mixed, "composition", None))})

    row = cat.resolve_version(current)
    out.update(version=current, n_rows=row["n_rows"])
    return out


def _plain(obj: Any) -> Any:
    """A JSON-friendly copy of a result field (dataclasses, polars frames, lists of dicts)."""
    if obj is None:
        return None
    if hasattr(obj, "to_dicts"):
        return obj.to_dicts()
    if hasattr(obj, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(obj)
    try:
        return json.loads(json.dumps(obj, default=str))
    except (TypeError, ValueError):
        return str(obj)


def train_config(config: dict | str):
    from workbench.train import TrainConfig

    return TrainConfig.load(config)


def step_train(ws: Workspace, inp: dict) -> dict:
    from workbench.train import train

    result = _call(train, ws, inp["version"], inp["base"], train_config(inp["config"]), seed=inp["seed"], quant="auto")
    run = ws.catalog().get_run(result.id)
    return {"run_id": result.id, "adapter_dir": str(getattr(result, "adapter_dir", "")), "mode": run.get("mode"),
            "train_wall_s": run.get("wall_s"), "tokens_per_s": run.get("tokens_per_s")}


def step_eval(ws: Workspace, inp: dict) -> dict:
    from workbench.evals.runner import evaluate

    results = evaluate(ws, inp["target"], inp["suites"], inp["layer"], limit=inp.get("limit"))
    keep = ("suite", "layer", "result_id", "n_items", "metrics", "primary_metric", "model_key", "run_id", "wall_s")
    return {"target": inp["target"], "results": [{k: getattr(r, k) for k in keep} for r in results]}


STEPS: dict[str, Callable[[Workspace, dict], dict]] = {"build": step_build, "train": step_train, "eval": step_eval}


# --------------------------------------------------------------------------------------
# Planning: the tasks of an ablation, with ids from their inputs.
# --------------------------------------------------------------------------------------


def resolved_train_config(spec: AblationSpec) -> dict:
    """The train section fully resolved (defaults filled in): a file's content, not its path,
    feeds the task hash, and a bad key fails here, before anything runs."""
    source = spec.path(spec.train) if isinstance(spec.train, str) else dict(spec.train)
    try:
        return train_config(source).resolved()
    except ImportError as e:
        raise AblationError(f"training is not available: {e}") from None
    except Exception as e:  # TrainError: keep its key path, under the spec's `train` key
        raise SpecError(f"train: {e}") from None


def build_task(spec: AblationSpec, v: VariantSpec) -> Task:
    inputs: dict[str, Any] = {"name": v.name, "base": spec.base}
    hashed: dict[str, Any] = {}
    if v.version:
        inputs["version"] = v.version
        return Task("build", v.name, None, f"build {v.name}", inputs)
    inputs["sources"] = [spec.path(s) if os.path.exists(spec.path(s)) else s for s in v.sources or []]
    hashed["sources"] = [file_hash(s) if os.path.exists(s) else s for s in inputs["sources"]]
    if v.recipe is not None:
        if isinstance(v.recipe, str):
            inputs["recipe"] = yaml.safe_load(Path(spec.path(v.recipe)).read_text(encoding="utf-8"))
        else:
            inputs["recipe"] = v.recipe
    if v.synth is not None:
        inputs["synth"] = v.synth.model_dump()
        inputs["mix"] = (v.mix or MixSpec()).model_dump()
    return Task("build", v.name, None, f"build {v.name}", inputs, hashed, located=("sources",))


def train_task(spec: AblationSpec, variant: str, version: str, seed: int, config: dict) -> Task:
    inputs = {"version": version, "base": spec.base, "config": config, "seed": seed}
    return Task("train", variant, seed, f"train {variant} seed {seed}", inputs)


def eval_task(spec: AblationSpec, variant: str, seed: int | None, target: str) -> Task:
    inputs = {"target": target, "suites": list(spec.eval.suites), "layer": spec.eval.layer, "limit": spec.eval.limit}
    label = f"eval {variant}" + (f" seed {seed}" if seed is not None else " (untrained)")
    return Task("eval", variant, seed, label, inputs)


# --------------------------------------------------------------------------------------
# The runner
# --------------------------------------------------------------------------------------


@dataclass
class Outcome:
    task: Task
    status: str  # done | cached | reused | failed
    output: dict = field(default_factory=dict)
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
        self.total = len(spec.variants) * (1 + 2 * len(spec.seeds)) + 1
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
            outcome = Outcome(task, "cached", row["output"])
        elif (other := cat.find_done_task(task.id)) is not None:
            cat.task_reused(name, task.id, task.kind, task.variant, task.seed, task.label, task.inputs, other["output"])
            outcome = Outcome(task, "reused", other["output"])
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
                cat.task_done(name, task.id, output, wall)
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
        n_var, n_seed = len(spec.variants), len(spec.seeds)
        remaining = {"build": n_var, "train": n_var * n_seed, "eval": n_var * n_seed + 1}

        def after(kind: str) -> dict[str, int]:
            remaining[kind] -= 1
            return dict(remaining)

        built: dict[str, str] = {}
        for v in spec.variants:
            try:
                task = build_task(spec, v)
            except (OSError, yaml.YAMLError) as e:
                self.log(f"build {v.name}: cannot read its inputs: {e}")
                continue
            o = self.run_task(task, after("build"))
            if o.status != "failed":
                built[v.name] = o.output["version"]
            else:  # its trains and evals will not run
                remaining["train"] -= n_seed
                remaining["eval"] -= n_seed
                self.total -= 2 * n_seed

        self.run_task(eval_task(spec, BASE, None, spec.base), after("eval"))

        for v in spec.variants:
            if v.name not in built:
                continue
            for seed in spec.seeds:
                o = self.run_task(train_task(spec, v.name, built[v.name], seed, config), after("train"))
                if o.status == "failed":
                    remaining["eval"] -= 1
                    self.total -= 1
                    continue
                self.run_task(eval_task(spec, v.name, seed, o.output["run_id"]), after("eval"))
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


# --------------------------------------------------------------------------------------
# Status
# --------------------------------------------------------------------------------------


def status(ws: Workspace, name: str) -> dict:
    """What is done, running, interrupted or failed, per task, and what is still to come."""
    cat = ws.catalog(reader=True)
    abl = cat.get_ablation(name)
    tasks = cat.ablation_tasks(name)
    spec = abl["spec"]
    n_var, n_seed = len(spec["variants"]), len(spec["seeds"])
    failed_builds = sum(t["kind"] == "build" and t["status"] == "failed" for t in tasks)
    expected = n_var + 1 + 2 * n_seed * (n_var - failed_builds)
    counts: dict[str, int] = {}
    for t in tasks:
        counts[t["status"]] = counts.get(t["status"], 0) + 1
    counts["not started"] = max(0, expected - len(tasks))
    return {"name": name, "spec_path": abl["spec_path"], "updated": abl["updated"], "tasks": tasks, "counts": counts}
