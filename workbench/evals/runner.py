"""Run eval suites on a base model or a training run with lm-eval, offline, with caching.

`evaluate(ws, model, suites, layer)` loads the model once with lm-eval's HF backend (for a
run, its LoRA adapter merged into a copy of the base in memory), applies the model's chat template, generates greedily in
batches, and stores per-item samples plus suite aggregates in the catalog. Each suite
result is cached under a hash of (model or adapter content, suite content, generation
settings): asking again returns the stored result without loading the model; editing a
suite file changes its hash and re-runs it.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

from workbench.core import hashing
from workbench.evals.checkpoints import (average_samples, checkpoint_settings, likelihood_metrics, mean_metrics,
                                         run_checkpoints)
from workbench.evals.heldout import check_not_trained_on
from workbench.evals.likelihood import BPB, LIKELIHOOD_TYPES, likelihood_sample, reference_bpb
from workbench.evals.scoring import directions
from workbench.evals.suites import LAYERS, SMOKE_SIZE, EvalError, Suite, SuiteError, select  # noqa: F401 (EvalError)
from workbench.core.workspace import Workspace

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "HF_EVALUATE_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
# Part of every cache key; bump when the way results are produced changes.
RUNNER_VERSION = 2  # 2: bits per byte of the reference beside the generation metrics


@dataclass
class SuiteResult:
    suite: str
    layer: str
    target: str
    model_key: str
    result_id: str
    n_items: int
    metrics: dict[str, float]
    primary_metric: str | None = None
    higher_is_better: dict[str, bool] = field(default_factory=dict)  # metric -> direction
    cached: bool = False
    wall_s: float = 0.0
    gen_tokens: int = 0
    likelihood_s: float = 0.0  # of wall_s, the teacher-forced reference scoring
    run_id: str | None = None
    settings: dict = field(default_factory=dict)

    @property
    def tokens_per_s(self) -> float:
        return self.gen_tokens / self.wall_s if self.wall_s else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "tokens_per_s": self.tokens_per_s}


@dataclass
class SuiteRun:
    """What one lm-eval call on a suite layer produced, before it is stored."""

    metrics: dict[str, float]
    samples: list[dict]
    higher_is_better: dict[str, bool]
    likelihood_s: float
    # (sample index, context, reference) of each item whose reference was scored teacher-forced:
    # what an earlier checkpoint rescores (workbench.evals.checkpoints)
    references: list[tuple[int, str, str]] = field(default_factory=list)


# ---------------------------------------------------------------------------------------
# What is being evaluated, and its content hash
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    spec: str  # as asked
    pretrained: str  # what from_pretrained loads
    adapter_dir: str | None
    run_id: str | None
    model_key: str


# Content hashing and model identity live in workbench.core.hashing (one memo file, one rule for
# what is content); dir_hash is re-exported here for callers of the runner.
dir_hash = hashing.dir_hash


def _find_run(ws: Workspace, ref: str) -> dict | None:
    cat = ws.catalog()
    if not hasattr(cat, "get_run"):
        return None
    try:
        return cat.get_run(ref)
    except Exception:  # noqa: BLE001 - not a run id (CatalogError) or no runs table yet
        return None


def resolve_target(ws: Workspace, model: str) -> Target:
    """A bundled name, local model dir or hub id, or a training run id -> what to load and its key."""
    from workbench.core.models import ModelError, resolve_model

    model = str(model)
    run = None if os.path.isdir(model) else _find_run(ws, model)
    if run is not None:
        if run.get("status") not in (None, "finished"):
            raise EvalError(f"run {run['id']} is {run.get('status')}, not finished: train it to the end first")
        adapter = run.get("adapter_dir")
        if not adapter or not Path(adapter).is_dir():
            raise EvalError(f"run {run['id']}: adapter directory {adapter!r} is missing")
        base = run.get("base_model_path") or resolve_model(run.get("base_model"))
        base_key = run.get("base_model_hash") or hashing.model_identity(base)["hash"]
        return Target(model, str(base), str(adapter), run["id"], f"m-{hashing.adapter_identity(base_key, adapter)}")
    try:
        path = resolve_model(model)
    except ModelError as e:
        raise EvalError(f"{model!r} is neither a training run id in this workspace nor a model: {e}") from None
    return Target(model, path, None, None, f"m-{hashing.model_identity(path)['hash']}")


def model_key(ws: Workspace, model: str) -> str:
    """The content-hash key under which results of a model or run are stored."""
    return resolve_target(ws, model).model_key


def lookup_key(ws: Workspace, ref: str) -> str:
    """A model key for a reference: a stored key/target/run id first, else computed from the model."""
    keys = ws.catalog().eval_model_keys(ref)
    if keys:
        return keys[0]
    return model_key(ws, ref)


# ---------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------


def settings_for(layer: str, limit: int | None, max_gen_toks: int | None = None,
                 apply_chat_template: bool = True, backend: str = "hf") -> dict:
    """The generation settings that feed the cache key (the suite's own max tokens and stop strings
    live in its YAML, hence in the suite hash; `max_gen_toks` here overrides them). The backend
    (hf or vllm) is keyed: samples of the two are never mixed under one result."""
    import lm_eval

    return {"layer": layer, "limit": limit, "max_gen_toks": max_gen_toks, "apply_chat_template": apply_chat_template,
            "greedy": True, "num_fewshot": 0, "lm_eval": getattr(lm_eval, "__version__", "?"),
            "runner": RUNNER_VERSION, "backend": backend}


# Settings recorded with a result but not part of its id: library versions (content only in ids),
# and whether a run's adapter was merged into the base for evaluation ("merged") or run through
# peft's wrapper ("peft"): the same function up to float rounding (tests/test_merged_eval.py).
UNKEYED_SETTINGS = ("lm_eval", "adapter")


def cache_key(model_key_: str, suite: Suite, settings: dict) -> str:
    keyed = {k: v for k, v in settings.items() if k not in UNKEYED_SETTINGS}
    return "r-" + hashing.content_hash({"model": model_key_, "suite": suite.name, "suite_hash": suite.content_hash(),
                                        "settings": keyed}, length=20)


def _prepare_offline() -> None:
    for k, v in OFFLINE_ENV.items():
        os.environ.setdefault(k, v)
    from workbench.evals.nltk_data import ensure

    ensure()
    for name in ("lm-eval", "lm_eval", "lm_eval.api.task", "lm_eval.evaluator", "lm_eval.models.huggingface"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # lm-eval records its caller's commit by running `git describe` in the working directory;
    # outside a repository git prints "fatal: not a git repository" on stderr. Not needed here.
    # It also stores torch's environment report with every result (collect_env: ~11 subprocesses,
    # pip among them, about 2 s a suite). Nothing here reads it.
    import lm_eval.evaluator

    lm_eval.evaluator.get_git_commit_hash = lambda: None
    lm_eval.evaluator.add_env_info = lambda storage: None


def lm_args(target: Target, batch_size: int, backend: str = "hf") -> dict:
    """lm-eval model arguments for a target on a backend (vllm: the run's adapter as a LoRA)."""
    from workbench.core.device import detect, vllm_lm_args

    if backend == "vllm":
        return vllm_lm_args(target.pretrained, target.adapter_dir, batch_size)
    cuda = detect().cuda
    kwargs = {"pretrained": target.pretrained, "batch_size": batch_size, "device": "cuda" if cuda else "cpu",
              "dtype": "auto" if cuda else "float32"}
    if target.adapter_dir:
        kwargs["peft"] = target.adapter_dir
    return kwargs


def _load_lm(target: Target, batch_size: int, backend: str = "hf", merge: bool = True, early_stop: bool = True):
    """lm-eval's model for a target. On the hf backend a run's adapter is merged into a copy of
    the base in memory (merge=False: peft's unmerged wrapper, as lm-eval's `peft=` loads it);
    the tokenizer stays the base model's either way. Greedy generation drops each finished row
    from its batch (workbench.evals.decode; early_stop=False: lm-eval's own generate call)."""
    kwargs = lm_args(target, batch_size, backend)
    try:
        if backend == "vllm":
            from lm_eval.models.vllm_causallms import VLLM

            return VLLM(**kwargs)
        from lm_eval.models.huggingface import HFLM

        from workbench.evals.decode import EarlyStopHFLM

        cls = EarlyStopHFLM if early_stop else HFLM
        if merge and target.adapter_dir:
            from workbench.core.models import load_merged

            model = load_merged(target.pretrained, target.adapter_dir, kwargs["dtype"], kwargs["device"])
            kwargs = {"pretrained": model, "tokenizer": target.pretrained, "batch_size": batch_size}
        return cls(**kwargs)
    except Exception as e:  # noqa: BLE001 - name the model that failed to load
        raise EvalError(f"cannot load {target.spec!r} ({target.pretrained}"
                        f"{' + adapter ' + target.adapter_dir if target.adapter_dir else ''}): {e}") from e


def _number(v) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, (list, tuple)) and all(isinstance(x, (bool, int, float)) for x in v):
        return sum(float(x) for x in v) / len(v) if v else 0.0
    return None


def _task_manager(suite: Suite):
    from lm_eval.tasks import TaskManager

    if suite.builtin:
        from workbench.evals.suites import lm_eval_task_manager

        return lm_eval_task_manager()
    return TaskManager(include_path=str(suite.dir), include_defaults=False)


def _dataset_error(suite: Suite, e: Exception) -> EvalError:
    cfg = suite.configs["core"]
    ds = cfg.get("dataset_path") or "?"
    name = f" (config {cfg['dataset_name']!r})" if cfg.get("dataset_name") else ""
    return EvalError(f"lm-eval task {suite.name!r} needs the dataset {ds!r}{name} from the Hugging Face hub, which "
                     f"could not be loaded ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}). "
                     "Run once with network access (it is then cached), or use a suite under evalsuites/.")


def _simple_evaluate(lm, suite: Suite, layer: str, limit: int | None, max_gen_toks: int | None) -> dict:
    from lm_eval import simple_evaluate

    task = suite.tasks[layer]
    if suite.builtin and layer == "smoke" and limit is None:
        limit = SMOKE_SIZE
    try:
        out = simple_evaluate(model=lm, tasks=[task], task_manager=_task_manager(suite), limit=limit,
                              log_samples=True, apply_chat_template=suite.chat_template,
                              system_instruction=suite.system_prompt, bootstrap_iters=0, verbosity="ERROR",
                              gen_kwargs={"max_gen_toks": max_gen_toks} if max_gen_toks else None)
    except Exception as e:  # noqa: BLE001 - a built-in task's hub dataset is the usual offline failure
        if suite.builtin and not isinstance(e, EvalError):
            raise _dataset_error(suite, e) from e
        raise
    if out is None:
        raise EvalError(f"lm-eval returned no results for {task}")
    return out


def _run_suite(lm, suite: Suite, layer: str, limit: int | None, max_gen_toks: int | None = None) -> SuiteRun:
    """lm-eval on one suite's layer task, plus the reference's bits per byte where the suite has one."""
    out = _simple_evaluate(lm, suite, layer, limit, max_gen_toks)
    task = suite.tasks[layer]
    agg = {}
    for k, v in (out["results"].get(task) or {}).items():
        name, _, filt = k.partition(",")
        if name in ("alias", "sample_len") or "_stderr" in k:
            continue
        num = _number(v)
        if num is not None:
            agg[name] = num
    kind = suite.output_type(layer)
    samples, contexts, refs, index = [], [], [], []
    for s in out["samples"][task]:
        doc = s["doc"]
        metrics = {m: _number(s[m]) for m in (s.get("metrics") or []) if m in s and _number(s[m]) is not None}
        if not metrics:  # older lm-eval: metric values sit at the top level of the sample
            metrics = {k: _number(v) for k, v in s.items() if k not in {"doc_id", "doc", "target", "arguments",
                       "resps", "filtered_resps", "filter", "metrics", "doc_hash", "prompt_hash", "target_hash"}
                       and _number(v) is not None}
        if kind in LIKELIHOOD_TYPES:
            resp, extra = likelihood_sample(s, kind)
            metrics.update(extra)
        else:
            resp = s["resps"][0][0] if s.get("resps") and s["resps"][0] else ""
        prompt = s["arguments"][0][0] if s.get("arguments") else doc.get("prompt", "")
        samples.append({"item_id": str(doc.get("id", s["doc_id"])), "prompt": prompt, "response": resp,
                        "scores": metrics})
        if suite.reference_field and kind == "generate_until":
            ref = doc.get(suite.reference_field)
            if ref in (None, ""):
                raise EvalError(f"suite {suite.name}: item {samples[-1]['item_id']} has no reference "
                                f"({suite.reference_field!r}, named in metadata.reference)")
            contexts.append(prompt)
            refs.append(str(ref))
            index.append(len(samples) - 1)
    lik_s = 0.0
    if refs:
        t0 = time.perf_counter()
        for sample, bpb in zip(samples, reference_bpb(lm, contexts, refs)):
            sample["scores"][BPB] = bpb
        lik_s = time.perf_counter() - t0
    bpbs = [x["scores"][BPB] for x in samples if BPB in x["scores"]]
    if bpbs:
        agg[BPB] = sum(bpbs) / len(bpbs)
    declared = {k.partition(",")[0]: v for k, v in (out.get("higher_is_better", {}).get(task) or {}).items()}
    return SuiteRun(agg, samples, directions(agg, declared), lik_s, list(zip(index, contexts, refs)))


def _likelihood_pass(lm, suite: Suite, layer: str, limit: int | None, final: SuiteRun) -> list[dict]:
    """Another checkpoint's per-item likelihood scores on the items `final` scored: a
    likelihood-only suite run again whole (no generation), else its references rescored."""
    if suite.likelihood_only:
        return _run_suite(lm, suite, layer, limit).samples
    if not final.references:
        return []
    idx, contexts, refs = zip(*final.references)
    return [{"item_id": final.samples[i]["item_id"], "scores": {BPB: bpb}}
            for i, bpb in zip(idx, reference_bpb(lm, list(contexts), list(refs)))]


def _average_checkpoints(cat, target: Target, earlier: list, pending: list, batch_size: int, backend: str,
                         merge: bool, layer: str, limit: int | None) -> None:
    """Score the pending suites' likelihood metrics at each earlier adapter, average them per item
    with the final adapter's, and save each result (its wall time includes the extra passes)."""
    others: list[list[list[dict]]] = [[] for _ in pending]
    for ckpt in earlier:
        t0 = time.perf_counter()
        lm = _load_lm(Target(target.spec, target.pretrained, ckpt.adapter_dir, target.run_id, target.model_key),
                      batch_size, backend, merge)
        for j, (suite, row, run) in enumerate(pending):
            others[j].append(_likelihood_pass(lm, suite, layer, limit, run))
        del lm
        share = (time.perf_counter() - t0) / len(pending)
        for _suite, row, _run in pending:
            row["wall_s"] += share
            row["likelihood_s"] += share
    for (suite, row, run), runs in zip(pending, others):
        metrics = likelihood_metrics(run.samples, suite.likelihood_only)
        samples = average_samples(run.samples, runs, metrics)
        row["metrics"] = mean_metrics(row["metrics"], samples, metrics)
        cat.save_eval_result(row, samples)


def _count_tokens(tokenizer, texts: list[str]) -> int:
    return sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts if t)


def evaluate(ws: Workspace, model: str, suites: list[str] | str | None = None, layer: str = "smoke",
             batch_size: int = 16, limit: int | None = None, progress: bool = True,
             max_gen_toks: int | None = None, backend: str | None = None,
             merge: bool = True, checkpoints: int | None = None) -> list[SuiteResult]:
    """Evaluate a base model spec or a training run id on suites; cached per (model, suite, settings).

    `limit` takes the first N items of each suite's layer; `max_gen_toks` caps generation;
    `backend` (auto, hf, vllm; see workbench.core.device.generation_backend) picks the generator
    (all three are part of the cache key). Progress bars show unless progress=False. A run's
    adapter is merged into the base weights for the hf backend unless merge=False (not keyed).
    `checkpoints` K averages likelihood metrics over a run's last K kept adapters (default: all
    the run kept, none unless it was trained with keep_adapters; workbench.evals.checkpoints).
    A held-out suite (`workbench eval heldout`) refuses a run trained on any of its rows.
    """
    from workbench.core.device import generation_backend

    if layer not in LAYERS:
        raise SuiteError(f"unknown layer {layer!r}: use one of {', '.join(LAYERS)}")
    chosen = select(suites, layer)
    target = resolve_target(ws, model)
    gen = generation_backend(backend)
    settings = settings_for(layer, limit, max_gen_toks, backend=gen.name)
    if target.adapter_dir:
        settings["adapter"] = ("merged" if merge else "peft") if gen.name == "hf" else "lora"
    run_row = _find_run(ws, target.run_id) if target.run_id else None
    if checkpoints not in (None, 1) and run_row is None:
        raise EvalError(f"--checkpoints {checkpoints}: {model!r} is not a training run; only a run has checkpoints")
    kept = run_checkpoints(run_row, checkpoints) if run_row is not None else []
    if len(kept) > 1:
        base_key = run_row.get("base_model_hash") or hashing.model_identity(target.pretrained)["hash"]
        settings["checkpoints"] = checkpoint_settings(run_row, base_key, kept)
    for suite in chosen:
        if run_row is not None and suite.heldout_of:
            check_not_trained_on(ws, suite, run_row)
    cat = ws.catalog()
    results: list[SuiteResult] = []
    rows: dict[str, tuple[dict, bool]] = {}
    pending: list[tuple[Suite, dict, SuiteRun]] = []
    lm = None
    from workbench.core.progress import progress_bar

    bar = progress_bar(f"eval {target.spec} [{layer}]", total=len(chosen)) if progress else nullcontext(lambda n=1: None)
    from workbench.core.diskfull import disk_full

    with bar as advance, disk_full(ws.home, f"eval outputs of {target.spec}"):  # DiskFullError names the path
        for suite in chosen:
            rid = cache_key(target.model_key, suite, settings)
            row = cat.get_eval_result(rid)
            cached = row is not None
            if row is None:
                if lm is None:
                    _prepare_offline()
                    lm = _load_lm(target, batch_size, gen.name, merge)
                t0 = time.perf_counter()
                run = _run_suite(lm, suite, layer, limit, max_gen_toks)
                wall = time.perf_counter() - t0
                generated = [x["response"] for x in run.samples] if suite.output_type(layer) == "generate_until" else []
                row = {"id": rid, "model_key": target.model_key, "target": target.spec, "run_id": target.run_id,
                       "suite": suite.name, "layer": layer, "suite_hash": suite.content_hash(), "settings": settings,
                       "n_items": len(run.samples), "metrics": run.metrics, "primary_metric": suite.primary_metric,
                       "higher_is_better": run.higher_is_better, "gen_tokens": _count_tokens(lm.tokenizer, generated),
                       "wall_s": wall, "likelihood_s": run.likelihood_s}
                if len(kept) > 1:  # saved once the earlier checkpoints are scored too
                    pending.append((suite, row, run))
                else:
                    cat.save_eval_result(row, run.samples)
            rows[suite.name] = (row, cached)
            advance()
        if pending:
            lm = None  # one model in memory at a time
            _average_checkpoints(cat, target, kept[:-1], pending, batch_size, gen.name, merge, layer, limit)
    for suite in chosen:
        row, cached = rows[suite.name]
        results.append(SuiteResult(suite=suite.name, layer=layer, target=target.spec, model_key=target.model_key,
                                   result_id=row["id"], n_items=row["n_items"], metrics=row["metrics"],
                                   primary_metric=row.get("primary_metric"),
                                   higher_is_better=row.get("higher_is_better") or directions(row["metrics"]),
                                   cached=cached, wall_s=row.get("wall_s") or 0.0,
                                   gen_tokens=row.get("gen_tokens") or 0,
                                   likelihood_s=row.get("likelihood_s") or 0.0,
                                   run_id=target.run_id, settings=settings))
    return results
