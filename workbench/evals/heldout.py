"""Held-out rows of a dataset version as a likelihood-only eval suite (validation loss of the data).

`make_heldout(ws, VERSION, rows=500, name="my_heldout")` picks `rows` single-turn records of the
version (a keyed hash of the record id, so the same version gives the same rows), and writes:

- a suite folder `WORKBENCH_HOME/evalsuites/NAME` (a plain lm-eval task, output_type
  loglikelihood): each item's prompt is the record's user turn under its own system prompt
  (`reasoning.as_trained`, as training renders it), its reference the final assistant turn, and
  its id the record id; the only metric is the reference's bits per byte;
- a train version: the version without those rows, saved with lineage (operation `heldout`) and
  one removal per held-out row (step `heldout`, reason `heldout:NAME`).

Train the ablation on the train version. The guarantee does not rest on remembering to: the
suite names the version it holds out (`metadata.heldout_of`), and the eval runner refuses to
score a run whose training version holds any of the suite's record ids (`check_not_trained_on`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from workbench.core import hashing, reasoning
from workbench.data.records import Record
from workbench.evals.suites import (LAYERS, EvalError, SMOKE_SIZE, Suite, SuiteError, _Dumper, _Function, builtin_task, discover,
                                    load_suite, mark_smoke, workspace_suites_dir, write_jsonl)
from workbench.core.workspace import Workspace

HELDOUT_STEP = "heldout"

UTILS = '''"""lm-eval hooks for a held-out suite made by `workbench eval heldout` (likelihood only)."""

from pathlib import Path

from workbench.evals import scoring

HERE = Path(__file__).resolve().parent


def load(**metadata):
    # custom_dataset: data.jsonl next to this file, filtered to the layer
    return scoring.load_docs(HERE, **metadata)


def process_results(doc, results):
    # bits per byte of the held-out assistant turn (the runner recomputes it on the exact scored text)
    return scoring.likelihood_scores(doc, results, "reference")
'''


@dataclass(frozen=True)
class HeldOut:
    """What `make_heldout` wrote: the suite, and the version to train on instead of the source."""

    suite: Suite
    source_version: str
    train_version: str
    train_name: str
    n_heldout: int
    n_train: int
    skipped_multiturn: int


def heldout_row(record: Record) -> dict | None:
    """{id, system, prompt, reference} of a single-turn record as trained, or None (several user
    turns, or no final assistant turn: lm-eval's chat prompt is one system and one user turn)."""
    messages = reasoning.as_trained(record.messages, record.reasoning_mode)
    system = [m for m in messages if m["role"] == "system"]
    rest = [m for m in messages if m["role"] != "system"]
    if len(system) > 1 or len(rest) != 2 or rest[0]["role"] != "user" or rest[1]["role"] != "assistant":
        return None
    if not rest[1]["content"].strip() or not rest[0]["content"].strip():
        return None
    return {"id": record.id, "system": system[0]["content"] if system else "", "prompt": rest[0]["content"],
            "reference": rest[1]["content"]}


def pick(records: list[Record], rows: int, name: str) -> tuple[list[dict], int]:
    """The `rows` held-out items with the lowest keyed hash of (suite name, record id), and how many
    records were passed over as multi-turn."""
    usable, skipped = [], 0
    for r in records:
        row = heldout_row(r)
        if row is None:
            skipped += 1
        else:
            usable.append(row)
    usable.sort(key=lambda row: (hashing.keyed_int(f"heldout:{name}", row["id"]), row["id"]))
    return usable[:rows], skipped


def _task(name: str, layer: str, version: str) -> dict:
    task = name if layer == "core" else f"{name}_{layer}"
    meta = {"version": 1.0, "suite": name, "layer": layer, "data_file": "data.jsonl",
            "required_fields": ["id", "prompt", "reference"], "primary_metric": "bits_per_byte",
            "reference": "reference", "heldout_of": version}
    if layer != "core":
        return {"include": f"{name}.yaml", "task": task, "tag": ["workbench_likelihood_smoke"], "metadata": meta}
    return {"task": task, "tag": ["workbench_likelihood"], "custom_dataset": _Function("utils.load"),
            "dataset_path": "json", "output_type": "loglikelihood", "test_split": "test", "num_fewshot": 0,
            "description": "{{system}}", "doc_to_text": "{{prompt}}", "doc_to_target": "{{reference}}",
            "process_results": _Function("utils.process_results"),
            "metric_list": [{"metric": "bits_per_byte", "aggregation": "mean", "higher_is_better": False}],
            "metadata": meta}


def make_heldout(ws: Workspace, version_ref: str, rows: int, name: str, dest: str | os.PathLike | None = None,
                 train_name: str | None = None) -> HeldOut:
    """Split `version_ref` into `rows` held-out items (a likelihood-only suite NAME) and a train version."""
    from workbench.data.store import load_records, save_version

    if rows < 1:
        raise SuiteError(f"--rows {rows}: hold out at least one row")
    if not name.replace("_", "").isalnum():
        raise SuiteError(f"suite name {name!r}: use letters, digits and underscores")
    if name in discover() or builtin_task(name) is not None:
        raise SuiteError(f"suite {name!r} exists already (or is an lm-eval task); pick another name")
    cat = ws.catalog()
    version = cat.resolve_version(version_ref)
    records = load_records(ws, version["id"])
    held, skipped = pick(records, rows, name)
    if len(held) < rows:
        raise SuiteError(f"version {version['name']} ({version['id']}) has {len(held)} single-turn rows with an "
                         f"assistant answer ({skipped} others), fewer than --rows {rows}")
    if len(held) == len(records):
        raise SuiteError(f"--rows {rows} would hold out every row of {version['name']}: nothing left to train on")
    root = Path(dest) if dest else ws.home / "evalsuites"  # found by discover() under WORKBENCH_HOME
    folder = root / name
    if folder.exists():
        raise SuiteError(f"{folder} already exists; pick another name or remove it")
    ids = {r["id"] for r in held}
    kept = [r for r in records if r.id not in ids]
    train_name = train_name or f"{version['name']}-without-{name}"
    saved = save_version(ws, kept, train_name, HELDOUT_STEP,
                         parents=[(version["id"], {"heldout_suite": name, "rows": len(held)})],
                         removals=[{"record_id": i, "parent": version["id"], "step": HELDOUT_STEP,
                                    "reason": f"{HELDOUT_STEP}:{name}", "detail": None} for i in sorted(ids)],
                         meta={"heldout_suite": name, "parent": version["id"]})
    tmp = root / f".{name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "utils.py").write_text(UTILS, encoding="utf-8")
    for layer in LAYERS:
        head = (f"# Held-out suite {name}: {len(held)} rows of dataset version {version['name']} ({version['id']}), "
                f"scored by the bits per byte of each final assistant turn (no generation).\n"
                f"# Made by `workbench eval heldout`; train on version {saved.id} ({train_name}), which leaves them out.\n")
        text = yaml.dump(_task(name, layer, version["id"]), Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                         width=10_000)
        task = name if layer == "core" else f"{name}_{layer}"
        (tmp / f"{task}.yaml").write_text(head + text, encoding="utf-8")
    write_jsonl(tmp / "data.jsonl", mark_smoke(held, SMOKE_SIZE))
    os.replace(tmp, folder)
    suite = load_suite(folder)
    assert suite is not None
    suite.validate()
    return HeldOut(suite, version["id"], saved.id, train_name, len(held), len(kept), skipped)


def check_not_trained_on(ws: Workspace, suite: Suite, run: dict, items: list[str] | None = None) -> None:
    """Refuse a run whose training version holds any of a held-out suite's record ids (EvalError)."""
    from workbench.data.store import load_table

    if not suite.heldout_of or not run.get("version_id"):
        return
    held = set(items if items is not None else [r["id"] for r in suite.rows("core")])
    trained = set(load_table(ws, run["version_id"]).column("id").to_pylist())
    leaked = sorted(held & trained)
    if leaked:
        raise EvalError(f"run {run['id']} trained on {len(leaked)} row(s) that suite {suite.name} holds out "
                        f"(e.g. record {leaked[0]}); train on the version `workbench eval heldout` wrote, which leaves "
                        f"them out (lineage: operation {HELDOUT_STEP!r} from {suite.heldout_of})")
