"""One home for hashing: every id comes from workbench/core/hashing.py, and no id moved when it did.

The literal ids below were computed before the hashing moved into workbench/core/hashing.py (by the
code that made them then: records.content_hash, store.version_hash, Recipe.hash, dedup's
cluster_id, the synth cache keys, draw_seed, the ablation task ids). The same content must keep
giving the same id. The one id that changed on purpose is a built-in lm-eval suite's hash, which
mixed in lm_eval.__version__ (ids never carry library versions).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from workbench.core import hashing
from workbench.ablate.inputs import BuildInputs
from workbench.ablate.spec import load_spec
from workbench.ablate.strategies import _fit
from workbench.ablate.tasks import BASE, Task, build_task, eval_task, train_task
from workbench.curate.ablation_steps import draw_seed
from workbench.curate.dedup import cluster_id
from workbench.curate.recipe import Recipe, load_recipe
from workbench.data.ingest import ingest
from workbench.data.records import make_record, repeat_id, unique_ids
from workbench.data.store import version_hash
from workbench.evals.suites import Suite
from workbench.synth import think
from workbench.train.config import TrainConfig

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "workbench"

MSGS = [{"role": "user", "content": 'Grüß dich — 你好 "q"\n'}, {"role": "assistant", "content": "<think>\n\n</think>\nOK ✓"}]


def test_record_and_repeat_ids_are_unchanged():
    rec = make_record(MSGS)
    assert rec.id == "90bb745b7412b7c6" == hashing.record_id(MSGS, None)
    assert make_record(MSGS, reasoning_mode="no_think").id == "ad016922f8e3925a"
    assert make_record(MSGS, rejected="nein é").id == "5d2adc5f0ea3dfc1"
    assert make_record(MSGS[:1], prompt_only=True).id == "192b595d56802248"
    assert [repeat_id(rec.id, n) for n in (1, 2, 7)] == ["0ebfcc00023024e9", "e6fe8b6280513848", "4807ad983c8e55c7"]
    # the record form stays compact and in message order, non-ASCII as is
    assert hashing.record_json(MSGS[:1], "think", "r") == '[["user","Grüß dich — 你好 \\"q\\"\\n"],"think",["rejected","r"]]'
    # the n-th exact repeat in one version is named by repeat_id
    a, b = (r.id for r in unique_ids([rec, rec]))
    assert a == rec.id and b == hashing.repeat_id(rec.id, 1)


def test_version_ids_are_unchanged(ws):
    records = [make_record(MSGS, source="src é", meta={"b": 1, "a": "ü", "x": [1.5, None]}),
               make_record(MSGS[:1] + [{"role": "assistant", "content": "x"}])]
    assert version_hash(records) == "0af99482e6cbe69f"
    assert hashing.version_id((r.id, r.source, r.meta) for r in records) == "0af99482e6cbe69f"
    # the quickstart's data, ingested
    version = ingest(ws, REPO / "datasets" / "example_raw.jsonl", "raw").version
    assert version.id == "e6c3b31d5daa0f62" and version.n_rows == 276


def test_recipe_ids_are_unchanged_and_keep_their_ascii_form():
    assert Recipe("r", "plain", ()).hash == "cf319ed9376b60d8"
    assert Recipe("r", "Grüße — 你好", ()).hash == "0014ba60715ac699"  # escaped, as it always was
    recipe = load_recipe(REPO / "examples" / "recipes" / "default.yaml")
    assert recipe.hash == hashing.recipe_id(recipe.to_dict()) == hashing.text_hash(hashing.ascii_json(recipe.to_dict()))
    assert hashing.ascii_json({"b": "é", "a": 1}) == '{"a": 1, "b": "\\u00e9"}'


def test_curation_synth_and_variant_name_ids_are_unchanged():
    assert cluster_id(["b" * 16, "a" * 16, "é"]) == "8cf7f05e3dfd" == hashing.cluster_id(iter(["é", "a" * 16, "b" * 16]))
    assert draw_seed("random_remove", {"n": 3, "seed": 0}) == 13721245935267608996
    assert draw_seed("inject", {"like": {"description": "é 你好", "steps": [1, 2.5]}}, (1, 2)) == 2215648291348240910
    settings = think.SynthSettings()
    assert settings.cache_hash() == "0c01bfca136f"
    # batch size and post-processing are not part of the key
    assert think.SynthSettings(temperature=0.7, top_p=0.9, max_new_tokens=100, num_generations=3, repetition_penalty=1.3,
                               batch_size=2, repair_think=False).cache_hash() == "50c25dcef881"
    assert think._key("abcdef0123456789", "think", "smollm2-135m-instruct", "0c01bfca136f", 2) == "17ba74959e2819b6b37823cd"
    assert think._key("p", "no_think", "teachér", "h", 0) == "801d5b9b973fb8e73e52887f"
    assert _fit("curated") == "curated"
    assert _fit("per_step-" + "x" * 80 + "-é") == "per_step-" + "x" * 46 + "-61ef2719"


def _suite_dir(root: Path) -> Path:
    d = root / "s"
    (d / "sub").mkdir(parents=True)
    (d / "s.yaml").write_bytes(b"task: s\n")
    (d / "data.jsonl").write_bytes('{"id": "1", "q": "é"}\n'.encode())
    (d / "sub" / "utils.py").write_bytes(b"X = 1\n")
    (d / "make_data.py").write_bytes(b"ignored\n")  # a generator, not the suite
    return d


def test_suite_ids(tmp_path, monkeypatch):
    d = _suite_dir(tmp_path)
    suite = Suite(name="s", dir=d, tasks={"core": "s", "smoke": "s"},
                  configs={"core": {"metadata": {"data_file": "data.jsonl"}}, "smoke": {"metadata": {}}})
    assert suite.content_hash() == "e67e514198317ecd"
    # lm-eval's own task: its config only. Before, lm_eval.__version__ was mixed in.
    cfg = {"task": "gsm8k", "doc_to_text": "Question: {{question}}\nAnswer:", "metadata": {"version": 3.0},
           "num_fewshot": 5, "note": "é"}
    builtin = Suite(name="gsm8k", dir=tmp_path, tasks={"core": "gsm8k", "smoke": "gsm8k"},
                    configs={"core": cfg, "smoke": cfg}, builtin=True)
    assert builtin.content_hash() == "5e8f3eccdac00680" == hashing.suite_config_id(cfg)
    lm_eval = pytest.importorskip("lm_eval")
    monkeypatch.setattr(lm_eval, "__version__", "99.0.0", raising=False)
    assert builtin.content_hash() == "5e8f3eccdac00680"


SPEC = """name: pinned
base: smollm2-135m-instruct
seeds: [0]
baseline: plain
train: {max_steps: 2, batch_size: 2}
eval: {suites: [think_follow, semsim], layer: smoke}
variants:
  - name: plain
    sources: [data.jsonl]
  - name: deduped
    sources: [data.jsonl]
    recipe: recipe.yaml
"""


def test_ablation_task_ids_are_unchanged(tmp_path):
    # a spec shaped like the quickstart's, on frozen files (the examples' recipes change with the filters)
    (tmp_path / "data.jsonl").write_text('{"instruction": "Grüß dich", "output": "Hallo ✓"}\n'
                                         '{"instruction": "q", "output": "a"}\n', encoding="utf-8")
    (tmp_path / "recipe.yaml").write_text("name: pinned\ndescription: Grüße\nsteps:\n  - step: exact_dedup\n",
                                          encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(SPEC, encoding="utf-8")
    spec = load_spec(tmp_path / "spec.yaml")
    assert {v.name: build_task(spec, v).id for v in spec.variants} == {"plain": "build-11f4c9c85c637d36",
                                                                      "deduped": "build-b7724145fd336eaa"}
    assert eval_task(spec, BASE, None, spec.base).id == "eval-a02e9f9c4f582098"
    assert eval_task(spec, "plain", 0, "run-x").id == "eval-e05b1e2185e5a447"
    # a train task's config is a resolved TrainConfig (its `resolved()` mapping is in the id)
    config = TrainConfig.load({"lr": 0.001, "dropout": 0.05})  # dropout: the default when this id was pinned
    assert train_task(spec, "v", "0123456789abcdef", 3, config).id == "train-4f4da6717d8b9548" == hashing.task_id(
        "train", {"version": "0123456789abcdef", "base": spec.base, "config": config.resolved(), "seed": 3}, {})
    recipe = {"description": "é", "steps": ["exact_dedup"]}
    fixed = Task("build", "v", None, "l", BuildInputs("v", "b", None, ("/x/a.jsonl",), ("abc",), load_recipe(recipe), recipe))
    assert fixed.id == "build-8788b244757b254e" == hashing.task_id("build", {"name": "v", "base": "b", "recipe": recipe},
                                                                    {"sources": ["abc"]})


def _hashlib_imports(path: Path) -> list[int]:
    """Lines of `path` that import hashlib (import hashlib [as x], from hashlib import ...,
    __import__("hashlib") or importlib.import_module("hashlib"))."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "hashlib" for a in node.names):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "hashlib":
            lines.append(node.lineno)
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and node.args[0].value == "hashlib"
              and getattr(node.func, "id", getattr(node.func, "attr", None)) in ("__import__", "import_module")):
            lines.append(node.lineno)
    return sorted(lines)


def test_hashlib_is_imported_only_by_the_hashing_module(tmp_path):
    found = {p.relative_to(REPO).as_posix(): lines for p in sorted(PACKAGE.rglob("*.py"))
             if (lines := _hashlib_imports(p))}
    assert set(found) == {"workbench/core/hashing.py"}, f"hashlib imported outside workbench/core/hashing.py: {found}"
    # the check sees each way of importing it
    probe = tmp_path / "probe.py"
    probe.write_text("import os, hashlib as h\nfrom hashlib import sha256\n"
                     "def f():\n    import importlib\n    return importlib.import_module('hashlib'), __import__('hashlib')\n")
    assert _hashlib_imports(probe) == [1, 2, 5, 5]
