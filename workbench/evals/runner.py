"""Run eval suites on a base model or a training run with lm-eval, offline, with caching.

`evaluate(ws, model, suites, layer)` loads the model once with lm-eval's HF backend (the
peft adapter on top for a run), applies the model's chat template, generates greedily in
batches, and stores per-item samples plus suite aggregates in the catalog. Each suite
result is cached under a hash of (model or adapter content, suite content, generation
settings): asking again returns the stored result without loading the model; editing a
suite file changes its hash and re-runs it.
"""

from __future__ import annotations

from workbench.errors import WorkbenchError

import hashlib
import json
import logging
import os
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

from workbench.evals.suites import LAYERS, Suite, SuiteError, select
from workbench.workspace import Workspace, cache_dir

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "HF_EVALUATE_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
# Part of every cache key; bump when the way results are produced changes.
RUNNER_VERSION = 1


class EvalError(WorkbenchError, ValueError):
    """Bad eval input (unknown model or run, nothing to compare); the message says what to do."""


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
    cached: bool = False
    wall_s: float = 0.0
    gen_tokens: int = 0
    run_id: str | None = None
    settings: dict = field(default_factory=dict)

    @property
    def tokens_per_s(self) -> float:
        return self.gen_tokens / self.wall_s if self.wall_s else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "tokens_per_s": self.tokens_per_s}


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


_HASHED_SUFFIXES = (".safetensors", ".bin", ".json", ".model", ".txt", ".jinja", ".py")


def _file_digest(path: Path) -> str:
    """sha256 of a file, remembered by (path, size, mtime) so a 500 MB model is hashed once."""
    st = path.stat()
    memo = cache_dir() / "hashes.json"
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    try:
        known = json.loads(memo.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return known[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    known[key] = h.hexdigest()
    tmp = memo.with_name(f"hashes.json.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(known))
    os.replace(tmp, memo)
    return known[key]


def dir_hash(path: str | os.PathLike) -> str:
    """Content hash of a model or adapter directory (weights, configs, tokenizer files)."""
    root = Path(path)
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix in _HASHED_SUFFIXES and "checkpoint-" not in str(p.relative_to(root)):
            h.update(str(p.relative_to(root)).encode() + b"\0" + _file_digest(p).encode() + b"\0")
    return h.hexdigest()


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
    from workbench.models import ModelError, resolve_model

    model = str(model)
    run = None if os.path.isdir(model) else _find_run(ws, model)
    if run is not None:
        if run.get("status") not in (None, "finished"):
            raise EvalError(f"run {run['id']} is {run.get('status')}, not finished: train it to the end first")
        adapter = run.get("adapter_dir")
        if not adapter or not Path(adapter).is_dir():
            raise EvalError(f"run {run['id']}: adapter directory {adapter!r} is missing")
        base = run.get("base_model_path") or resolve_model(run.get("base_model"))
        base_key = run.get("base_model_hash") or (dir_hash(base) if os.path.isdir(base) else base)
        key = hashlib.sha256(f"{base_key}|adapter:{dir_hash(adapter)}".encode()).hexdigest()[:16]
        return Target(model, str(base), str(adapter), run["id"], f"m-{key}")
    try:
        path = resolve_model(model)
    except ModelError as e:
        raise EvalError(f"{model!r} is neither a training run id in this workspace nor a model: {e}") from None
    ident = dir_hash(path) if os.path.isdir(path) else f"hub:{path}"
    return Target(model, path, None, None, f"m-{hashlib.sha256(ident.encode()).hexdigest()[:16]}")


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
                 apply_chat_template: bool = True) -> dict:
    """The generation settings that feed the cache key (the suite's own max tokens and stop strings
    live in its YAML, hence in the suite hash; `max_gen_toks` here overrides them)."""
    import lm_eval

    return {"layer": layer, "limit": limit, "max_gen_toks": max_gen_toks, "apply_chat_template": apply_chat_template,
            "greedy": True, "num_fewshot": 0, "lm_eval": getattr(lm_eval, "__version__", "?"),
            "runner": RUNNER_VERSION}


def cache_key(model_key_: str, suite: Suite, settings: dict) -> str:
    blob = json.dumps({"model": model_key_, "suite": suite.name, "suite_hash": suite.content_hash(),
                       "settings": settings}, sort_keys=True)
    return "r-" + hashlib.sha256(blob.encode()).hexdigest()[:20]


def _prepare_offline() -> None:
    for k, v in OFFLINE_ENV.items():
        os.environ.setdefault(k, v)
    from workbench.evals.nltk_data import ensure

    ensure()
    for name in ("lm-eval", "lm_eval", "lm_eval.api.task", "lm_eval.evaluator", "lm_eval.models.huggingface"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _load_lm(target: Target, batch_size: int):
    import torch
    from lm_eval.models.huggingface import HFLM

    cuda = torch.cuda.is_available()
    kwargs = {"pretrained": target.pretrained, "batch_size": batch_size, "device": "cuda" if cuda else "cpu",
              "dtype": "auto" if cuda else "float32"}
    if target.adapter_dir:
        kwargs["peft"] = target.adapter_dir
    try:
        return HFLM(**kwargs)
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


def _run_suite(lm, suite: Suite, layer: str, limit: int | None, max_gen_toks: int | None = None) -> tuple[dict, list[dict]]:
    """lm-eval on one suite's layer task: (aggregate metrics, per-item samples)."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    task = suite.tasks[layer]
    tm = TaskManager(include_path=str(suite.dir), include_defaults=False)
    out = simple_evaluate(model=lm, tasks=[task], task_manager=tm, limit=limit, log_samples=True,
                          apply_chat_template=True, bootstrap_iters=0, verbosity="ERROR",
                          gen_kwargs={"max_gen_toks": max_gen_toks} if max_gen_toks else None)
    if out is None:
        raise EvalError(f"lm-eval returned no results for {task}")
    agg = {}
    for k, v in (out["results"].get(task) or {}).items():
        name, _, filt = k.partition(",")
        if name in ("alias", "sample_len") or "_stderr" in k:
            continue
        num = _number(v)
        if num is not None:
            agg[name] = num
    samples = []
    for s in out["samples"][task]:
        doc = s["doc"]
        resp = s["resps"][0][0] if s.get("resps") and s["resps"][0] else ""
        metrics = {m: _number(s[m]) for m in (s.get("metrics") or []) if m in s and _number(s[m]) is not None}
        if not metrics:  # older lm-eval: metric values sit at the top level of the sample
            metrics = {k: _number(v) for k, v in s.items() if k not in {"doc_id", "doc", "target", "arguments",
                       "resps", "filtered_resps", "filter", "metrics", "doc_hash", "prompt_hash", "target_hash"}
                       and _number(v) is not None}
        prompt = s["arguments"][0][0] if s.get("arguments") else doc.get("prompt", "")
        samples.append({"item_id": str(doc.get("id", s["doc_id"])), "prompt": prompt, "response": resp,
                        "scores": metrics})
    return agg, samples


def _count_tokens(tokenizer, texts: list[str]) -> int:
    return sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts if t)


def evaluate(ws: Workspace, model: str, suites: list[str] | str | None = None, layer: str = "smoke",
             batch_size: int = 16, limit: int | None = None, progress: bool = True,
             max_gen_toks: int | None = None) -> list[SuiteResult]:
    """Evaluate a base model spec or a training run id on suites; cached per (model, suite, settings).

    `limit` takes the first N items of each suite's layer; `max_gen_toks` caps generation
    (both are part of the cache key). Progress bars show unless progress=False.
    """
    if layer not in LAYERS:
        raise SuiteError(f"unknown layer {layer!r}: use one of {', '.join(LAYERS)}")
    chosen = select(suites, layer)
    target = resolve_target(ws, model)
    settings = settings_for(layer, limit, max_gen_toks)
    cat = ws.catalog()
    results: list[SuiteResult] = []
    lm = None
    from workbench.progress import progress_bar

    bar = progress_bar(f"eval {target.spec} [{layer}]", total=len(chosen)) if progress else nullcontext(lambda n=1: None)
    with bar as advance:
        for suite in chosen:
            rid = cache_key(target.model_key, suite, settings)
            row = cat.get_eval_result(rid)
            if row is None:
                if lm is None:
                    _prepare_offline()
                    lm = _load_lm(target, batch_size)
                t0 = time.perf_counter()
                agg, samples = _run_suite(lm, suite, layer, limit, max_gen_toks)
                wall = time.perf_counter() - t0
                gen_tokens = _count_tokens(lm.tokenizer, [s["response"] for s in samples])
                row = {"id": rid, "model_key": target.model_key, "target": target.spec, "run_id": target.run_id,
                       "suite": suite.name, "layer": layer, "suite_hash": suite.content_hash(), "settings": settings,
                       "n_items": len(samples), "metrics": agg, "primary_metric": suite.primary_metric,
                       "gen_tokens": gen_tokens, "wall_s": wall}
                cat.save_eval_result(row, samples)
                cached = False
            else:
                cached = True
            results.append(SuiteResult(suite=suite.name, layer=layer, target=target.spec, model_key=target.model_key,
                                       result_id=rid, n_items=row["n_items"], metrics=row["metrics"],
                                       primary_metric=row.get("primary_metric"), cached=cached,
                                       wall_s=row.get("wall_s") or 0.0, gen_tokens=row.get("gen_tokens") or 0,
                                       run_id=target.run_id, settings=settings))
            advance()
    return results
