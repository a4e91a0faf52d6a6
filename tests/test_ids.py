"""Ids are content only: hashing rules, the one model identity, and two workspaces that agree.

Issue 18 §1: transformers writes `transformers_version` into config.json and
generation_config.json, and the tokenizer writes `is_local`/`local_files_only`; peft writes the
base model's directory into adapter_config.json. None of that is content, so none of it may
change a model identity, run id or eval result id.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workbench.core import hashing
from workbench.core.hashing import model_identity

REPO = Path(__file__).resolve().parents[1]


def _edit_json(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data, indent=2))


def test_canonical_json_and_content_hash():
    assert hashing.canonical_json({"b": 1, "a": "é"}) == '{"a": "é", "b": 1}'
    assert hashing.content_hash({"a": 1, "b": [1, 2]}) == hashing.content_hash({"b": [1, 2], "a": 1})
    assert hashing.content_hash({"a": 1}) != hashing.content_hash({"a": 2})
    assert len(hashing.content_hash({"a": 1})) == 16 and len(hashing.content_hash({}, length=20)) == 20


def test_file_digest_is_the_same_with_or_without_the_memo(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    f = tmp_path / "w.bin"
    f.write_bytes(b"\x00\x01" * 1000)
    first = hashing.file_digest(f)
    assert (tmp_path / "cache" / hashing.MEMO_NAME).exists()
    assert hashing.file_digest(f) == first
    (tmp_path / "cache" / hashing.MEMO_NAME).unlink()
    assert hashing.file_digest(f) == first and hashing.file_hash(f) == first[:16]


def test_volatile_keys_leave_the_identity_unchanged_and_weights_change_it(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    a = model_identity(str(tiny_model_dir))
    copy = tmp_path / "elsewhere" / "model"
    shutil.copytree(tiny_model_dir, copy)
    # another transformers release, another machine's tokenizer loading flags, another origin
    _edit_json(copy / "config.json", transformers_version="5.23.0", _name_or_path="/some/other/place")
    _edit_json(copy / "generation_config.json", transformers_version="5.23.0")
    _edit_json(copy / "tokenizer_config.json", is_local=False, local_files_only=False)
    b = model_identity(str(copy))
    assert b["hash"] == a["hash"] and b["path"] != a["path"]

    # a config value that is content changes it
    _edit_json(copy / "config.json", rms_norm_eps=1e-5)
    assert model_identity(str(copy))["hash"] != a["hash"]
    _edit_json(copy / "config.json", rms_norm_eps=json.loads((tiny_model_dir / "config.json").read_text())["rms_norm_eps"])
    assert model_identity(str(copy))["hash"] == a["hash"]

    # so does one weight
    from safetensors.torch import load_file, save_file

    weights = load_file(copy / "model.safetensors")
    name = sorted(weights)[0]
    weights[name] = weights[name].clone()
    weights[name].view(-1)[0] += 1.0
    save_file(weights, copy / "model.safetensors", metadata={"format": "pt"})
    assert model_identity(str(copy))["hash"] != a["hash"]


def test_adapter_identity_ignores_the_base_models_directory_and_set_order(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    one, two = tmp_path / "one", tmp_path / "two"
    for d, base, targets in ((one, "/home/a/.cache/workbench/models/m", ["q_proj", "v_proj"]),
                             (two, "/srv/b/cache/models/m", ["v_proj", "q_proj"])):  # peft writes a set
        d.mkdir()
        (d / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base, "r": 8, "peft_version": "0.21.0",
                                                         "target_modules": targets}))
        (d / "adapter_model.safetensors").write_bytes(b"same weights")
    assert hashing.adapter_identity("base", one) == hashing.adapter_identity("base", two)
    (two / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "x", "r": 8, "target_modules": ["q_proj"]}))
    assert hashing.adapter_identity("base", one) != hashing.adapter_identity("base", two)


PIPELINE = textwrap.dedent(
    """
    import json, sys
    from workbench.core.workspace import Workspace
    from workbench.data.ingest import ingest
    from workbench.curate.recipe import curate
    from workbench.train import train
    from workbench.evals.runner import evaluate

    ws = Workspace.default()
    raw = ingest(ws, sys.argv[1], "raw").version.id
    curated = curate(ws, raw, sys.argv[2], "curated").version.id
    run = train(ws, curated, sys.argv[3], {"max_steps": 2, "batch_size": 2, "save_steps": 2,
                "sanity_prompts": 1, "sanity_max_new_tokens": 4}, seed=0, progress=False)
    results = evaluate(ws, run.id, ["think_follow"], limit=2, max_gen_toks=4, batch_size=2, progress=False)
    base = evaluate(ws, sys.argv[3], ["think_follow"], limit=2, max_gen_toks=4, batch_size=2, progress=False)
    row = ws.catalog().get_run(run.id)
    print("IDS=" + json.dumps({
        "raw": raw, "curated": curated, "base_hash": row["base_model_hash"], "run": run.id,
        "run_key": results[0].model_key, "run_result": results[0].result_id,
        "base_key": base[0].model_key, "base_result": base[0].result_id,
        "scores": results[0].metrics, "versions": run.versions}))
    """
)


def test_two_workspaces_in_different_places_get_the_same_ids(tiny_model_dir, tmp_path):
    """Same content, different WORKBENCH_HOME, WORKBENCH_CACHE, working directory and model
    directory (with another transformers_version written in it): every id is the same."""
    pytest.importorskip("lm_eval")
    from workbench.core.models import DEFAULT_MODEL, resolve_model

    # Ingest counts tokens with the bundled tokenizer, which a fresh cache would first convert from
    # its GGUF (a 135M model dequantized and written out: about a minute per cache on 2 shared
    # cores). Each cache gets the one converted directory as a link; the rest of each cache (the
    # file-digest memo) starts empty, and no id depends on the token statistics.
    bundled = Path(resolve_model(DEFAULT_MODEL))
    procs = []
    for i, where in enumerate(("first/place", "second/somewhere/else")):
        root = tmp_path / where
        model = root / "models" / "tiny"
        shutil.copytree(tiny_model_dir, model)
        (root / "cache" / "models").mkdir(parents=True)
        (root / "cache" / "models" / DEFAULT_MODEL).symlink_to(bundled, target_is_directory=True)
        if i == 1:  # as saved by another transformers release, loaded another way
            _edit_json(model / "config.json", transformers_version="5.23.0")
            _edit_json(model / "generation_config.json", transformers_version="5.23.0")
            _edit_json(model / "tokenizer_config.json", is_local=False)
        env = {**os.environ, "WORKBENCH_HOME": str(root / "home"), "WORKBENCH_CACHE": str(root / "cache"),
               "PYTHONHASHSEED": str(i + 1),  # set order differs between the two processes
               "OMP_NUM_THREADS": "1",  # the two run at once, a core each (no id depends on threads)
               "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        procs.append(subprocess.Popen(
            [sys.executable, "-c", PIPELINE, str(REPO / "tests" / "fixtures" / "alpaca.jsonl"),
             str(REPO / "examples" / "recipes" / "default.yaml"), str(model)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=root,
        ))
    ids = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=900)
            assert proc.returncode == 0, out + err
            line = next(x for x in out.splitlines() if x.startswith("IDS="))
            ids.append(json.loads(line[4:]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    first, second = ids
    assert first["versions"]["transformers"] and first["versions"] == second["versions"]  # recorded, not keyed
    assert first == second
    assert first["run_key"] != first["base_key"]
