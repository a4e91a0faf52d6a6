"""Suite discovery, layers, content hashes, bad suite folders and making suites from JSONL."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from workbench.evals import suites as S

REPO = Path(__file__).resolve().parents[1]
SUITES = REPO / "evalsuites"


def test_bundled_suites_and_layers():
    found = S.discover([SUITES])
    assert {"ifeval_style", "gsm_style", "semsim", "think_follow"} <= set(found)
    for s in found.values():
        assert set(s.tasks) == {"smoke", "core"}
        s.validate()
        smoke, core = s.rows("smoke"), s.rows("core")
        if s.meta("smoke").get("smoke_rows") == "all":  # a likelihood-only suite: its smoke layer is every row
            assert s.likelihood_only and smoke == core
        else:
            assert 25 <= len(smoke) <= 35 and {r["id"] for r in smoke} <= {r["id"] for r in core}


def test_ifeval_style_size_and_instruction_types():
    from workbench.evals.scoring import _ifeval_utils

    _ifeval_utils()
    from lm_eval.tasks.ifeval.instructions_registry import INSTRUCTION_DICT

    rows = S.discover([SUITES])["ifeval_style"].rows("core")
    assert len(rows) >= 150
    types = {i for r in rows for i in r["instruction_id_list"]}
    assert len(types) >= 15 and types <= set(INSTRUCTION_DICT)
    for r in rows:  # kwargs build in lm-eval's registry
        for iid, kw in zip(r["instruction_id_list"], r["kwargs"]):
            INSTRUCTION_DICT[iid](iid).build_description(**kw)


def test_gsm_style_answers_are_verified_integers():
    rows = S.discover([SUITES])["gsm_style"].rows("core")
    assert len(rows) >= 300 and len({r["question"] for r in rows}) == len(rows)
    for r in rows:
        final = r["answer"].split("#### ")[-1]
        assert re.fullmatch(r"\d+", final), r
        # the worked solution's last computed value is the answer
        assert r["answer"].split("\n")[0].rstrip(".").split("= ")[-1].split(" ")[0] == final or final in r["answer"].split("\n")[0]


def test_think_follow_has_both_modes_in_smoke():
    rows = S.discover([SUITES])["think_follow"].rows("smoke")
    modes = [r["mode"] for r in rows]
    assert modes.count("think") == modes.count("no_think") == 15


def test_unknown_suite_and_layer():
    with pytest.raises(S.SuiteError, match="unknown suite.*nope.*available"):
        S.select("nope", "smoke", [SUITES])
    with pytest.raises(S.SuiteError, match="unknown layer"):
        S.select("semsim", "huge", [SUITES])


def _copy(tmp_path, name="semsim") -> Path:
    dest = tmp_path / "suites"
    shutil.copytree(SUITES / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def test_broken_yaml_names_file_and_line(tmp_path):
    root = _copy(tmp_path)
    y = root / "semsim" / "semsim.yaml"
    y.write_text(y.read_text().replace("output_type: generate_until", "output_type: [generate_until"))
    with pytest.raises(S.SuiteError, match=r"semsim\.yaml:\d+: broken YAML"):
        S.discover([root])


def test_missing_field_names_file_and_line(tmp_path):
    root = _copy(tmp_path)
    data = root / "semsim" / "data.jsonl"
    lines = data.read_text().splitlines()
    row = json.loads(lines[4])
    del row["reference"]
    lines[4] = json.dumps(row)
    data.write_text("\n".join(lines) + "\n")
    with pytest.raises(S.SuiteError, match=r"data\.jsonl:5: missing field\(s\) reference"):
        S.select("semsim", "core", [root])
    lines[4] = "{not json"
    data.write_text("\n".join(lines) + "\n")
    with pytest.raises(S.SuiteError, match=r"data\.jsonl:5: not valid JSON"):
        S.select("semsim", "core", [root])


def test_content_hash_changes_when_a_suite_file_changes(tmp_path):
    root = _copy(tmp_path)
    s = S.discover([root])["semsim"]
    h = s.content_hash()
    assert h == S.discover([root])["semsim"].content_hash()
    (root / "semsim" / "make_data.py").write_text("# generator edits do not change the suite\n")
    assert S.discover([root])["semsim"].content_hash() == h
    y = root / "semsim" / "semsim.yaml"  # the core YAML, which the smoke YAML includes
    y.write_text(y.read_text().replace("max_gen_toks: 96", "max_gen_toks: 97"))
    edited = S.discover([root])["semsim"]
    assert edited.content_hash() != h
    assert edited.configs["smoke"]["generation_kwargs"]["max_gen_toks"] == 97


def test_make_suite_from_prompt_reference_jsonl(tmp_path):
    src = tmp_path / "mine.jsonl"
    src.write_text("".join(json.dumps({"prompt": f"Q{i}?", "reference": f"A{i}.", "extra": 1}) + "\n" for i in range(40)))
    s = S.make_suite("my_set", "semsim", src, dest=tmp_path / "out")
    assert s.tasks == {"core": "my_set", "smoke": "my_set_smoke"}
    assert len(s.rows("core")) == 40 and len(s.rows("smoke")) == 30
    assert S.discover([tmp_path / "out"])["my_set"].primary_metric == "similarity"
    with pytest.raises(S.SuiteError, match="already exists"):
        S.make_suite("my_set", "semsim", src, dest=tmp_path / "out")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "Q"}) + "\n")
    with pytest.raises(S.SuiteError, match=r"bad\.jsonl:1: missing field\(s\) reference"):
        S.make_suite("bad_set", "semsim", bad, dest=tmp_path / "out")


def test_make_suite_from_official_ifeval_and_gsm8k_formats(tmp_path):
    ifeval = tmp_path / "input_data.jsonl"  # the official IFEval file's fields
    ifeval.write_text(json.dumps({"key": 1000, "prompt": "Write a 300+ word summary. Do not use any commas.",
                                  "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}) + "\n")
    s = S.make_suite("ifeval_official", "ifeval_style", ifeval, dest=tmp_path / "out")
    assert s.rows("core")[0]["id"] == "1000"
    gsm = tmp_path / "gsm8k_test.jsonl"
    gsm.write_text(json.dumps({"question": "What is 2 + 3?", "answer": "2 + 3 = <<2+3=5>>5\n#### 5"}) + "\n")
    s = S.make_suite("gsm8k_local", "gsm_style", gsm, dest=tmp_path / "out")
    assert s.rows("smoke")[0]["answer"].endswith("#### 5")


def test_plain_lm_eval_task_manager_loads_every_suite():
    from lm_eval.tasks import TaskManager

    tm = TaskManager(include_path=str(SUITES), include_defaults=False)
    names = set(tm.all_tasks)
    for s in S.discover([SUITES]).values():
        assert set(s.tasks.values()) <= names
    assert {"workbench_smoke", "workbench_core"} <= names


def test_smoke_yamls_include_their_core_and_resolve_as_lm_eval_does():
    from lm_eval.tasks._yaml_loader import load_yaml

    for s in S.discover([SUITES]).values():
        raw = S._read_yaml(s.files["smoke"])
        assert raw["include"] == s.files["core"].name
        assert set(raw) <= {"include", "task", "tag", "metadata"}  # only what differs
        assert s.configs["smoke"] == {**s.configs["core"], "task": raw["task"], "tag": raw["tag"],
                                      "metadata": {**s.meta("core"), "layer": "smoke"}}
        theirs = load_yaml(s.files["smoke"], resolve_func=False)  # lm-eval's own include resolution
        assert set(theirs) == set(s.configs["smoke"])
        ours = s.configs["smoke"]
        # (lm-eval makes `!function` paths absolute, so compare the keys that hold plain data)
        plain = [k for k in ("task", "tag", "metadata", "output_type", "doc_to_text", "generation_kwargs") if k in ours]
        assert {k: theirs[k] for k in plain} == {k: ours[k] for k in plain}


def test_reference_fields_and_think_follow_references():
    from workbench.evals.scoring import think_state

    found = S.discover([SUITES])
    assert {n: found[n].reference_field for n in ("gsm_style", "semsim", "think_follow", "ifeval_style")} == {
        "gsm_style": "answer", "semsim": "reference", "think_follow": "reference", "ifeval_style": None}
    for row in found["think_follow"].rows("core"):
        ref = row["reference"]
        if row["mode"] == "think":
            assert think_state(ref) == "thought" and ref.startswith("<think>\n") and "\n</think>\n" in ref
        else:
            assert ref.startswith("<think>\n\n</think>\n") and ref[len("<think>\n\n</think>\n"):].strip()
    mc = found["arith_choice"]
    assert mc.output_type("core") == "multiple_choice" and len(mc.rows("core")) >= 40
    for row in mc.rows("core"):
        assert len(set(row["choices"])) == 4 and 0 <= row["gold"] < 4


def test_make_suite_edits_yaml_as_data_with_a_correct_header(tmp_path):
    src = tmp_path / "input_data.jsonl"
    src.write_text("".join(json.dumps({"key": 1000 + i, "prompt": f"Write {i}. Do not use any commas.",
                                       "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}) + "\n"
                           for i in range(3)))
    s = S.make_suite("ifeval_full", "ifeval_style", src, dest=tmp_path / "out", max_gen_toks=1280,
                     system_prompt="You are careful.")
    for layer, task in s.tasks.items():
        text = s.files[layer].read_text()
        assert text.splitlines()[0].startswith("# Suite ifeval_full: made by `workbench eval make-suite`")
        assert f"--tasks {task} " in text.splitlines()[1] and "ifeval_style_smoke" not in text
        assert s.configs[layer]["generation_kwargs"]["max_gen_toks"] == 1280
        assert s.configs[layer]["process_results"] == "utils.process_results"
    assert re.search(r"process_results: !function '?utils\.process_results'?\n", s.files["core"].read_text())
    assert S._read_yaml(s.files["smoke"])["include"] == "ifeval_full.yaml"
    assert s.system_prompt == "You are careful."
    from lm_eval.tasks import TaskManager

    assert {"ifeval_full", "ifeval_full_smoke"} <= set(TaskManager(include_path=str(tmp_path / "out"),
                                                                  include_defaults=False).all_tasks)


def test_make_suite_refuses_to_shadow_an_lm_eval_builtin_unless_forced(tmp_path):
    gsm = tmp_path / "gsm8k_test.jsonl"
    gsm.write_text(json.dumps({"question": "What is 2 + 3?", "answer": "2 + 3 = 5\n#### 5"}) + "\n")
    with pytest.raises(S.SuiteError, match=r"gsm8k is an lm-eval built-in task.*--force"):
        S.make_suite("gsm8k", "gsm_style", gsm, dest=tmp_path / "out")
    assert not (tmp_path / "out" / "gsm8k").exists()
    s = S.make_suite("gsm8k", "gsm_style", gsm, dest=tmp_path / "out", force=True)
    assert s.tasks["core"] == "gsm8k" and not s.builtin


def test_smoke_suites_run_under_plain_lm_eval(tiny_model_dir, tmp_path):
    """`lm_eval --include_path evalsuites --tasks ..._smoke`: the include-based YAMLs, no workbench runner."""
    import os
    import subprocess
    import sys

    tasks = "gsm_style_smoke,semsim_smoke,think_follow_smoke,ifeval_style_smoke,arith_choice_smoke"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    out = subprocess.run([sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args",
                          f"pretrained={tiny_model_dir}", "--include_path", str(SUITES), "--tasks", tasks,
                          "--limit", "2", "--apply_chat_template", "--gen_kwargs", "max_gen_toks=8",
                          "--output_path", str(tmp_path / "out")],
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads(next((tmp_path / "out").rglob("results_*.json")).read_text())["results"]
    assert set(results) == set(tasks.split(","))
    assert {"acc,none", "acc_norm,none"} <= set(results["arith_choice_smoke"])
    assert "flexible_extract,none" in results["gsm_style_smoke"]
