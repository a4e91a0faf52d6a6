"""Likelihood metrics on the tiny model: bits per byte of references and gold choices, their
direction, lm-eval's likelihood output types as suites, built-in tasks, per-suite prompts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import manual_bpb
from workbench.evals.likelihood import BPB
from workbench.evals.runner import EvalError, evaluate
from workbench.evals.scoring import higher_is_better

REPO = Path(__file__).resolve().parents[1]
FAST = {"limit": 3, "max_gen_toks": 8, "batch_size": 4, "progress": False}


def test_reference_bits_per_byte_per_item_and_its_direction(ws, tiny_model_dir):
    results = evaluate(ws, str(tiny_model_dir), suites="semsim,think_follow,gsm_style,ifeval_style", **FAST)
    cat = ws.catalog()
    by = {r.suite: r for r in results}
    for name in ("semsim", "think_follow", "gsm_style"):
        r = by[name]
        items = cat.result_samples(r.result_id)
        assert all(it["scores"][BPB] > 0 for it in items)  # every item, beside its generation metrics
        assert r.metrics[BPB] == pytest.approx(sum(it["scores"][BPB] for it in items) / len(items))
        assert r.higher_is_better[BPB] is False and r.higher_is_better[r.primary_metric] is True
        assert cat.get_eval_result(r.result_id)["higher_is_better"] == r.higher_is_better
    assert BPB not in by["ifeval_style"].metrics  # no reference: generation metrics only
    assert not any(BPB in it["scores"] for it in cat.result_samples(by["ifeval_style"].result_id))
    assert by["think_follow"].likelihood_s > 0

    # the number is the reference's own likelihood after the very prompt generation used
    from workbench.evals.suites import select

    (suite,) = select("think_follow", "smoke")
    rows = {r["id"]: r for r in suite.rows("smoke")}
    item = cat.result_samples(by["think_follow"].result_id)[0]
    want = manual_bpb(tiny_model_dir, item["prompt"], rows[item["item_id"]]["reference"])
    assert item["scores"][BPB] == pytest.approx(want, rel=1e-3)


def test_metric_direction_has_one_home():
    assert higher_is_better("acc") and higher_is_better("pass") and higher_is_better("similarity")
    assert not higher_is_better("bits_per_byte") and not higher_is_better("perplexity")
    assert higher_is_better("perplexity", {"perplexity": True})  # what a suite declares wins


def test_multiple_choice_suite_scores_acc_acc_norm_and_gold_bits_per_byte(ws, tiny_model_dir):
    (r,) = evaluate(ws, str(tiny_model_dir), suites="arith_choice", **FAST)
    assert {"acc", "acc_norm", BPB} <= set(r.metrics) and r.gen_tokens == 0
    assert r.higher_is_better == {"acc": True, "acc_norm": True, BPB: False}
    from workbench.evals.suites import select

    rows = {x["id"]: x for x in select("arith_choice", "smoke")[0].rows("smoke")}
    for it in ws.catalog().result_samples(r.result_id):
        assert set(it["scores"]) >= {"acc", "acc_norm", BPB} and it["scores"][BPB] > 0
        assert it["response"] in rows[it["item_id"]]["choices"]  # the choice the model ranked first
        assert it["scores"]["acc"] == float(it["response"] == rows[it["item_id"]]["choices"][rows[it["item_id"]]["gold"]])


def _user_suite(root: Path, name: str, body: str, data: str) -> None:
    d = root / name
    d.mkdir(parents=True)
    shutil.copy(REPO / "evalsuites" / "semsim" / "utils.py", d / "utils.py")
    (d / "data.jsonl").write_text(data)
    (d / f"{name}.yaml").write_text(f"task: {name}\ncustom_dataset: !function utils.load\ndataset_path: json\n"
                                    f"test_split: test\n{body}\nmetadata:\n  suite: {name}\n  layer: core\n")
    (d / f"{name}_smoke.yaml").write_text(f"include: {name}.yaml\ntask: {name}_smoke\n"
                                          f"metadata:\n  suite: {name}\n  layer: smoke\n")


def test_loglikelihood_output_type_and_per_suite_prompt_settings(ws, tiny_model_dir, tmp_path, monkeypatch):
    data = "".join(f'{{"id": "q{i}", "prompt": "Say {i}.", "reference": "{i}"}}\n' for i in range(3))
    _user_suite(tmp_path, "my_ll", 'output_type: loglikelihood\ndoc_to_text: "{{prompt}}"\n'
                'doc_to_target: " {{reference}}"\nmetric_list:\n  - metric: perplexity\n', data)
    _user_suite(tmp_path, "my_plain", 'output_type: generate_until\ndoc_to_text: "{{prompt}}"\n'
                'doc_to_target: "{{reference}}"\ngeneration_kwargs:\n  until: ["\\n"]\n  max_gen_toks: 4\n'
                'process_results: !function utils.process_results\nmetric_list:\n  - metric: similarity\n    aggregation: mean\n    higher_is_better: true\n', data)
    plain = tmp_path / "my_plain" / "my_plain.yaml"
    plain.write_text(plain.read_text() + "  reference: reference\n  chat_template: false\n")
    _user_suite(tmp_path, "my_sys", 'output_type: generate_until\ndoc_to_text: "{{prompt}}"\n'
                'doc_to_target: "{{reference}}"\ngeneration_kwargs:\n  until: ["\\n"]\n  max_gen_toks: 4\n'
                'process_results: !function utils.process_results\nmetric_list:\n  - metric: similarity\n    aggregation: mean\n    higher_is_better: true\n', data)
    sys_yaml = tmp_path / "my_sys" / "my_sys.yaml"
    sys_yaml.write_text(sys_yaml.read_text() + "  system_prompt: You answer with one number.\n")
    monkeypatch.setenv("WORKBENCH_SUITES", str(tmp_path))
    ll, plain_r, sys_r = evaluate(ws, str(tiny_model_dir), suites="my_ll,my_plain,my_sys", **FAST)
    cat = ws.catalog()
    items = cat.result_samples(ll.result_id)
    assert [it["response"] for it in items] == [" 0", " 1", " 2"]
    assert all(it["scores"][BPB] > 0 and it["scores"]["perplexity"] for it in items)
    assert ll.higher_is_better["perplexity"] is False and ll.higher_is_better[BPB] is False
    plain_items = cat.result_samples(plain_r.result_id)
    assert [it["prompt"] for it in plain_items] == ["Say 0.", "Say 1.", "Say 2."]  # no chat template
    assert all(it["scores"][BPB] > 0 for it in plain_items)
    sys_items = cat.result_samples(sys_r.result_id)
    assert all(it["prompt"].startswith("<|im_start|>system\nYou answer with one number.<|im_end|>") for it in sys_items)


def test_builtin_lm_eval_task_resolves_and_offline_names_its_dataset(ws, tiny_model_dir, monkeypatch):
    from workbench.evals.suites import select

    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setenv(var, "1")
    (s,) = select("gsm8k", "smoke")
    assert s.builtin and s.tasks == {"smoke": "gsm8k", "core": "gsm8k"}
    with pytest.raises(EvalError, match=r"lm-eval task 'gsm8k' needs the dataset 'openai/gsm8k' \(config 'main'\)"):
        evaluate(ws, str(tiny_model_dir), suites="gsm8k", **FAST)
    assert ws.catalog().eval_results() == []  # nothing stored
