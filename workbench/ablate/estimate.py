"""How long an ablation's tasks will take: per-kind estimates from the work, refined as tasks finish.

Each task gets a prior in seconds from its work size and this kind's rate on the reference
machine (2 CPU cores, the bundled 135M model):

- build: rows read (+ teacher generations when the variant synthesizes);
- train: optimizer steps x examples per step x tokens per example (capped at max_length),
  plus a task's overhead (loading the model, saving the adapter);
- eval: per suite, generation batches x max_gen_toks (a batch runs to its longest answer),
  plus one likelihood pass per item where the suite has a reference.

A machine is faster or slower than the reference by a factor per kind: `Estimator.observe`
records (prior, actual) for each finished task and the remaining tasks of that kind are scaled by
the mean actual / prior of their kind (see `Estimator.factor`). A kind not seen yet borrows the
model kinds' factor (the machine's speed), and the running task's own progress refines its
share. What comes after the last task (the summary and the report) is `tail_s`.

`replay(points)` re-runs the estimate over a finished ablation's recorded durations, so its
accuracy can be checked after the fact (benchmarks/eta_check.py).
"""

from __future__ import annotations

import json
import math
import os
import statistics
from dataclasses import dataclass, field

from workbench.ablate.schema import SpecError


# Reference rates (2 CPU cores, SmolLM2-135M fp32), re-fitted on 2026-12-07 (`benchmarks/eta_check.py
# --fit`) to the quickstart timed in a warm worker on an idle machine at 03:25 UTC, after the CPU
# loss over labelled positions and LoRA dropout 0: training 123 priced tokens/s (83 before), 0.100 s
# a decoding step of a batch, 0.129 s a likelihood item, and a warm worker's overheads beyond the
# loop or the suites: 1.6-1.9 s a training, 1.3-2.7 s an eval (a fresh process: ~15 s).
BUILD_S_PER_ROW = 0.004
BUILD_OVERHEAD_S = 0.5
TRAIN_TOKENS_PER_S = 123.0
TRAIN_OVERHEAD_S = 2.0  # in a warm worker: loading the model, building the trainer, saving the adapter
BATCH_STEP_S = 0.10  # one decoding step of a 16-prompt batch (merged weights, early stop)
STEP_ROWS_EXP = 0.6  # a step of 32 rows took 1.5x one of 16 (bound by reading the weights): (32/16) ** 0.6
SYNTH_BATCH_STEP_S = 0.25  # a teacher's decoding step when a build synthesizes (not re-fitted)
EVAL_OVERHEAD_S = 2.5  # in a warm worker: loading and merging the model, lm-eval's set-up
AFTER_TASKS_S = 4.0  # the console summary after the last task (its statistics)
REPORT_S = 6.0  # writing report.html and report.md (the quickstart's took 5-6 s)
LIKELIHOOD_S_PER_ITEM = 0.13
PAD_FACTOR = 1.25  # a batch is as long as its longest example
CHARS_PER_TOKEN = 4.0  # of a JSONL line (keys included): the estimate before the data is built


MODEL_KINDS = ("train", "eval")


@dataclass(frozen=True)
class Work:
    kind: str  # build | train | eval
    label: str
    prior_s: float


def _source_rows(paths: list[str], select: list | None = None) -> tuple[int, float]:
    """Rows and mean tokens per row of the source files (estimated from bytes). `select`: the
    `select` params that open the variant's recipe (e.g. a per_step `prefix`), applied to the
    records as ingest makes them, so a variant built from a part of its sources is priced by it."""
    if select:
        return _selected_rows(paths, select)
    rows, size = 0, 0
    for p in paths:
        if os.path.isfile(p):
            with open(p, "rb") as fh:
                for line in fh:
                    if line.strip():
                        rows += 1
                        size += len(line)
    return rows, (size / rows / CHARS_PER_TOKEN if rows else 64.0)


def _selected_rows(paths: list[str], select: list) -> tuple[int, float]:
    import json

    from workbench.ablate.schema import read_source_records
    from workbench.curate.select import SelectFilter

    filters = [SelectFilter(params) for params in select]
    rows, size = 0, 0
    for p in paths:
        if os.path.isfile(p):
            for rec in read_source_records(p):
                if all(f.check(rec) is None for f in filters):
                    rows += 1
                    size += len(json.dumps(rec.messages, ensure_ascii=False).encode("utf-8"))
    return rows, (size / rows / CHARS_PER_TOKEN if rows else 64.0)


def _recipe_selects(spec, variant) -> list:
    from workbench.ablate.schema import load_variant_recipe

    try:
        return leading_selects(load_variant_recipe(spec, variant)) if variant.recipe is not None else []
    except Exception:  # noqa: BLE001 - a recipe that does not load is the build's error to report
        return []


def leading_selects(recipe) -> list:
    """The params of the `select` steps a curation recipe starts with (workbench.curate.recipe.Recipe)."""
    out = []
    for name, params in (recipe.steps if recipe is not None else ()):
        if name != "select":
            break
        out.append(params)
    return out


def build_prior(inputs: dict, cat=None) -> float:
    rows, _ = _source_rows(inputs.get("sources") or [])
    if not rows and inputs.get("version") and cat is not None:
        rows = _version(cat, inputs["version"]).get("n_rows", 0)
    seconds = BUILD_OVERHEAD_S + rows * BUILD_S_PER_ROW
    synth = inputs.get("synth")
    if synth:
        settings = synth.get("settings") or {}
        n = min(rows, synth["limit"]) if synth.get("limit") else rows
        modes = 2 if synth.get("mode") == "both" else 1
        batches = math.ceil(n / int(settings.get("batch_size", 8))) if n else 0
        seconds += EVAL_OVERHEAD_S + modes * batches * int(settings.get("max_new_tokens", 512)) * SYNTH_BATCH_STEP_S
    return seconds


def _version(cat, ref: str) -> dict:
    try:
        return cat.resolve_version(ref) or {}
    except Exception:  # noqa: BLE001 - not built yet: estimate from the sources instead
        return {}


def train_steps(config: dict, n_rows: int, mean_tokens: float) -> int:
    """Optimizer steps of a run under its budget: max_steps, else max_tokens (at `mean_tokens` a row,
    up to max_length), else epochs (as the Trainer counts them: workbench.train.coverage)."""
    from workbench.train.coverage import steps_per_epoch

    per_step = config["batch_size"] * config["grad_accum"]
    if config["max_steps"] > 0:
        return config["max_steps"]
    if config.get("max_tokens"):
        return max(1, math.ceil(config["max_tokens"] / (per_step * max(1.0, min(config["max_length"], mean_tokens)))))
    return math.ceil(config["epochs"] * steps_per_epoch(max(n_rows, 1), config["batch_size"], config["grad_accum"]))


def train_tokens(config: dict, n_rows: int, mean_tokens: float) -> float:
    """The tokens a run's priced by: optimizer steps x examples per step x padded tokens per example."""
    per_step = config["batch_size"] * config["grad_accum"]
    steps = train_steps(config, n_rows, mean_tokens)
    return steps * per_step * min(config["max_length"], mean_tokens * PAD_FACTOR)


def train_prior(config: dict, n_rows: int, mean_tokens: float) -> float:
    """The training loop at TRAIN_TOKENS_PER_S plus TRAIN_OVERHEAD_S. Sanity generations are not
    priced: an ablation runs without them unless `--sanity` (a few seconds a run then)."""
    return TRAIN_OVERHEAD_S + train_tokens(config, n_rows, mean_tokens) / TRAIN_TOKENS_PER_S


def train_prior_from_inputs(inputs: dict, cat=None, sources: list[str] | None = None, select: list | None = None) -> float:
    """From a train task's inputs: the built version's stats when the catalog has it, else the sources."""
    v = _version(cat, inputs["version"]) if cat is not None and inputs.get("version") else {}
    stats = v.get("stats") or {}
    if isinstance(stats, str):
        stats = json.loads(stats)
    if v and stats.get("mean_tokens"):
        return train_prior(inputs["config"], v["n_rows"], stats["mean_tokens"])
    rows, mean_tokens = _source_rows(sources or [], select)
    return train_prior(inputs["config"], rows, mean_tokens)


def eval_parts(suites: list[str], layer: str, limit: int | None, batch_size: int = 16,
               max_gen_toks: int | None = None) -> tuple[float, int]:
    """(decoding steps, likelihood items) of an eval: per suite, generation batches x max_gen_toks
    (a batch runs to its longest answer), plus one likelihood pass per item (the suite's own
    loglikelihood task, or its reference's bits per byte). A batch holds up to GEN_BATCH rows (as
    workbench.evals.decode runs it when memory allows), its step weighted by rows ** STEP_ROWS_EXP
    against a 16-row step."""
    from workbench.evals.batching import generation_batch
    from workbench.evals.suites import select

    steps, items = 0.0, 0
    for suite in select(suites, layer):
        n = len(suite.rows(layer)) if not suite.builtin else 30
        n = min(n, limit) if limit else n
        if suite.output_type(layer) == "generate_until":
            gen = max_gen_toks or (suite.configs[layer].get("generation_kwargs") or {}).get("max_gen_toks", 256)
            rows = generation_batch(batch_size, n, kv_mb_per_row=1.0, room_mb=math.inf)  # memory allowing
            steps += math.ceil(n / rows) * int(gen) * max(1.0, min(rows, n) / 16) ** STEP_ROWS_EXP
            if suite.reference_field:  # the reference's bits per byte, after generation
                items += n
        else:  # a likelihood suite: its own pass is the reference's (think_follow_bpb), counted once
            items += n
    return steps, items


def eval_prior(suites: list[str], layer: str, limit: int | None, batch_size: int = 16,
               max_gen_toks: int | None = None) -> float:
    steps, items = eval_parts(suites, layer, limit, batch_size, max_gen_toks)
    return EVAL_OVERHEAD_S + steps * BATCH_STEP_S + items * LIKELIHOOD_S_PER_ITEM


def prior_seconds(kind: str, inputs: dict, cat=None, sources: list[str] | None = None,
                  select: list | None = None) -> float:
    """The prior of one task from its inputs (as the runner builds them or the catalog recorded them);
    `sources` and `select` price a train task whose data is not built yet (see _source_rows)."""
    if kind == "build":
        return build_prior(inputs, cat)
    if kind == "train":
        return train_prior_from_inputs(inputs, cat, sources, select)
    if kind == "eval":
        return eval_prior(inputs["suites"], inputs["layer"], inputs.get("limit"), max_gen_toks=inputs.get("max_gen_toks"))
    raise ValueError(f"unknown task kind {kind!r}")


@dataclass
class Estimator:
    """Seconds left, from the priors of what remains and the factors learned from what finished."""

    seen: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # kind -> [(prior, actual)]
    tail_s: float = 0.0  # after the last task: the summary and the report

    def observe(self, kind: str, prior_s: float, actual_s: float) -> None:
        if prior_s > 0:
            self.seen.setdefault(kind, []).append((prior_s, actual_s))

    def factor(self, kind: str) -> float:
        """Actual / prior for this kind, from its finished tasks. Until three have finished, the
        median of theirs and the prior's own 1.0: one slow first task moves the estimate half way,
        two that agree set it. From three on, their mean (what is left is a sum, and a sum's
        expected length takes the mean), the highest and lowest left out from five on, so one task
        slowed by a busy machine does not move it much. A kind not seen yet takes the machine's
        speed from the model tasks (train, eval) seen so far; builds are too short to tell."""
        pairs = self.seen.get(kind)
        if not pairs and kind in MODEL_KINDS:
            pairs = [p for k in MODEL_KINDS for p in self.seen.get(k, [])]
        if not pairs:
            return 1.0
        ratios = sorted(a / p for p, a in pairs)
        if len(ratios) < 3:
            return statistics.median([1.0, *ratios])
        return statistics.fmean(ratios[1:-1] if len(ratios) >= 5 else ratios)

    def task_s(self, work: Work) -> float:
        return work.prior_s * self.factor(work.kind)

    def left(self, remaining: list[Work], current: Work | None = None, elapsed: float = 0.0,
             fraction: float | None = None) -> float:
        """Seconds left: the running task's rest (from its own progress once past 10%) plus the rest."""
        total = sum(self.task_s(w) for w in remaining) + self.tail_s
        if current is not None:
            expected = self.task_s(current)
            if fraction is not None and fraction >= 0.1:
                rest = elapsed / fraction * (1 - fraction)
            else:
                rest = max(expected - elapsed, 0.1 * expected)
            total += rest
        return total


@dataclass(frozen=True)
class Point:
    after: str  # the label of the task that just finished
    kind: str
    estimate_s: float  # what the display said was left
    actual_s: float  # what was really left

    @property
    def error(self) -> float:
        """Relative error of the estimate (0.2 = 20% off); 0 when nothing was left."""
        return abs(self.estimate_s - self.actual_s) / self.actual_s if self.actual_s > 0 else 0.0


def replay(tasks: list[tuple[Work, float]], tail_s: float = 0.0, actual_tail_s: float = 0.0) -> list[Point]:
    """The estimate at the start and after each finished task of a recorded run: [(work, wall_s)] in
    order; `tail_s` is what the estimate allows for after the last task, `actual_tail_s` what it took."""
    est = Estimator(tail_s=tail_s)
    points = [Point("(start)", "", est.left([w for w, _ in tasks]), sum(s for _, s in tasks) + actual_tail_s)]
    for i, (work, wall) in enumerate(tasks):
        est.observe(work.kind, work.prior_s, wall)
        rest = tasks[i + 1:]
        points.append(Point(work.label, work.kind, est.left([w for w, _ in rest]),
                            sum(s for _, s in rest) + actual_tail_s))
    return points


def recorded(ws, name: str) -> list[tuple[Work, float]]:
    """A finished ablation's tasks that ran (not cached or reused), in the order they ran, with wall times."""
    cat = ws.catalog(reader=True)
    rows = [t for t in cat.ablation_tasks(name) if t["status"] == "done" and t["wall_s"] and t.get("attempts", 1)]
    rows.sort(key=lambda t: t["started"])
    sources_of = {t["variant"]: (t["inputs"] or {}).get("sources") for t in rows if t["kind"] == "build"}
    out = []
    for t in rows:
        inputs = t["inputs"] or {}
        prior = prior_seconds(t["kind"], inputs, cat, sources_of.get(t["variant"]))
        out.append((Work(t["kind"], t["label"], prior), float(t["wall_s"])))
    return out



@dataclass(frozen=True)
class Planned:
    """One task of an ablation as planned before it runs (`task` None: its id waits on a build or train)."""

    key: tuple  # (kind, variant, seed)
    label: str
    state: str  # cached | reused | to run | waits
    work: Work
    task_id: str | None = None


def plan(ws, spec, configs: dict | None = None) -> list[Planned]:
    """Every task of the ablation in run order, with what the catalog already holds and a prior each.

    A task the catalog has finished (this ablation: cached; another: reused) costs nothing; the id of a
    train or eval whose build has not run yet is not known, so it is planned from the spec alone.
    `configs`: each variant's TrainConfig (workbench.ablate.tasks.train_configs), if resolved already."""
    from workbench.ablate.tasks import BASE, build_task, eval_task, train_configs, train_task

    cat = ws.catalog()
    configs = configs if configs is not None else train_configs(spec)
    out: list[Planned] = []

    def add(key, kind, label, task, inputs, sources=None, prior=None) -> dict | None:
        row = None
        if task is not None:
            mine = cat.get_task(spec.name, task.id)
            row = mine if mine and mine["status"] == "done" else cat.find_done_task(task.id)
            state = ("cached" if row is mine else "reused") if row else "to run"
        else:
            state = "waits"
        if row:
            prior = 0.0
        elif prior is None:
            prior = prior_seconds(kind, inputs, cat, sources)
        out.append(Planned(key, label, state, Work(kind, label, prior), task.id if task else None))
        return row["output"] if row else None

    eval_inputs = {"suites": list(spec.eval.suites), "layer": spec.eval.layer, "limit": spec.eval.limit,
                   "max_gen_toks": spec.eval.max_gen_toks}
    versions: dict[str, str | None] = {}
    for v in spec.variants:
        try:
            task = build_task(spec, v)
        except (OSError, SpecError) as e:  # the runner reports it and goes on without the variant
            out.append(Planned(("build", v.name, None), f"build {v.name}", f"cannot read its inputs: {e}",
                               Work("build", f"build {v.name}", 0.0)))
            versions[v.name] = False
            continue
        done = add(("build", v.name, None), "build", task.label, task, task.inputs.to_dict())
        versions[v.name] = (done or {}).get("version")
    base = eval_task(spec, BASE, None, spec.base)
    add(("eval", BASE, None), "eval", base.label, base, eval_inputs)
    for v in spec.variants:
        if versions[v.name] is False:
            continue
        sources = [spec.path(s) for s in v.sources or []]
        # not built yet: priced from its sources (and its recipe's leading select), the same for every
        # seed, so the sources are read once
        unbuilt = None if versions[v.name] else prior_seconds(
            "train", {"version": None, "config": configs[v.name].resolved()}, cat, sources, _recipe_selects(spec, v))
        for seed in spec.seeds_for(v.name):
            label = f"train {v.name} seed {seed}"
            config = configs[v.name]
            tt = train_task(spec, v.name, versions[v.name], seed, config, ws=ws) if versions[v.name] else None
            inputs = tt.inputs.to_dict() if tt else {"version": None, "config": config.resolved()}
            done = add(("train", v.name, seed), "train", label, tt, inputs, sources, unbuilt)
            et = eval_task(spec, v.name, seed, done["run_id"]) if done else None
            add(("eval", v.name, seed), "eval", f"eval {v.name} seed {seed}", et, eval_inputs)
    return out
