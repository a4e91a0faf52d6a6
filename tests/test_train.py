"""Training: labels, config errors, bad input, real runs on a tiny model (reuse, resume after kill -9, merge)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import run_cli_here
from workbench.data.records import make_record
from workbench.data.store import save_version
from workbench.train import TrainConfig, TrainError, check_mask_batch, conversation, last_checkpoint, prepare_tokenizer, render, train

FAST = {"max_steps": 4, "batch_size": 4, "save_steps": 2, "sanity_prompts": 2, "sanity_max_new_tokens": 6}


def arithmetic_records(n=16, modes=(None,)):
    return [
        make_record(
            [{"role": "user", "content": f"What is {i} plus {i}?"}, {"role": "assistant", "content": f"{i} plus {i} is {2 * i}."}],
            reasoning_mode=modes[i % len(modes)],
        )
        for i in range(n)
    ]


@pytest.fixture
def version(ws):
    return save_version(ws, arithmetic_records(), "toy", "ingest").id


# --- rendering and the loss mask -----------------------------------------------------------


def test_labels_cover_exactly_the_assistant_turns(tiny_model_dir):
    tok = prepare_tokenizer(str(tiny_model_dir), None)
    rec = make_record([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Bye"},
        {"role": "assistant", "content": "Goodbye."},
    ])
    ids, labels = render(rec, tok)
    assert len(ids) == len(labels)
    trained = tok.decode([t for t, lab in zip(ids, labels) if lab != -100])
    # content and end-of-turn of each assistant turn, nothing of the system or user turns
    assert trained == "Hello!<|im_end|>\nGoodbye.<|im_end|>\n"
    prompt_part = tok.decode([t for t, lab in zip(ids, labels) if lab == -100])
    assert "Hi there" in prompt_part and "Be brief." in prompt_part and "Hello!" not in prompt_part
    # the model learns to stop: the EOS after each answer carries loss
    assert sum(1 for t, lab in zip(ids, labels) if lab == tok.eos_token_id) == 2
    # pad token is distinct from EOS
    assert tok.pad_token_id != tok.eos_token_id


def test_think_and_no_think_rendering(tiny_model_dir):
    tok = prepare_tokenizer(str(tiny_model_dir), None)
    think = make_record([{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "<think>\nadd\n</think>\n4"}],
                        reasoning_mode="think")
    plain = make_record([{"role": "system", "content": "You are terse."}, {"role": "user", "content": "2+2?"},
                         {"role": "assistant", "content": "4"}], reasoning_mode="no_think")
    m = conversation(think)
    assert m[0] == {"role": "system", "content": "/think"}
    m = conversation(plain)
    assert m[0]["content"].endswith("/no_think") and m[0]["content"].startswith("You are terse.")
    assert m[-1]["content"] == "<think>\n\n</think>\n4"
    ids, labels = render(plain, tok)
    assert tok.decode([t for t, lab in zip(ids, labels) if lab != -100]) == "<think>\n\n</think>\n4<|im_end|>\n"
    ids, labels = render(think, tok)
    assert tok.decode([t for t, lab in zip(ids, labels) if lab != -100]) == "<think>\nadd\n</think>\n4<|im_end|>\n"


def test_mask_check_fails_loudly_on_none_or_all():
    ids = torch.tensor([[5, 6, 7, 8]])
    ok = {"input_ids": ids, "labels": torch.tensor([[-100, -100, 7, 8]]), "attention_mask": torch.ones_like(ids)}
    assert check_mask_batch(ok) == 0.5
    with pytest.raises(TrainError, match="selects no token"):
        check_mask_batch({**ok, "labels": torch.full_like(ids, -100)})
    with pytest.raises(TrainError, match="selects every token"):
        check_mask_batch({**ok, "labels": ids.clone()})


# --- config --------------------------------------------------------------------------------


def test_config_errors_name_the_key_path(tmp_path):
    with pytest.raises(TrainError, match="lora_rank: Extra inputs"):
        TrainConfig.load({"lora_rank": 8})
    with pytest.raises(TrainError, match=r"target_modules\.1: Input should be a valid string"):
        TrainConfig.load({"target_modules": ["q_proj", 3]})
    path = tmp_path / "t.yaml"
    path.write_text("r: -1\nlr: 1e-3\n")
    with pytest.raises(TrainError, match=rf"{path}:1: r: Input should be greater than 0"):
        TrainConfig.load(path)
    path.write_text("r: [unclosed\n")
    with pytest.raises(TrainError, match="not valid YAML"):
        TrainConfig.load(str(path))
    cfg = TrainConfig.load({"lr": 1e-3, "max_steps": 3})
    assert cfg.learning_rate == 1e-3 and TrainConfig.load(cfg.resolved()) == cfg


def test_example_config_is_valid():
    cfg = TrainConfig.load(Path(__file__).resolve().parents[1] / "examples" / "train.yaml")
    assert cfg.max_steps > 0


# --- bad input: clear errors before any step, catalog unchanged ----------------------------------


def test_bad_input_fails_before_any_step(ws, version, tiny_model_dir, tmp_path):
    cat = ws.catalog()
    with pytest.raises(TrainError, match="target_modules: qq_proj not among the model's linear layers"):
        train(ws, version, str(tiny_model_dir), {**FAST, "target_modules": ["q_proj", "qq_proj"]}, progress=False)
    with pytest.raises(TrainError, match="max_length 12 truncates every record"):
        train(ws, version, str(tiny_model_dir), {**FAST, "max_length": 12}, progress=False)
    user_only = "{% for m in messages %}{% if m['role'] == 'user' %}{{ m['content'] }}\n{% endif %}{% endfor %}"
    with pytest.raises(TrainError, match="no assistant tokens in any of the 16 records"):
        train(ws, version, str(tiny_model_dir), {**FAST, "chat_template": user_only}, progress=False)
    bare = tmp_path / "no-template"
    shutil.copytree(tiny_model_dir, bare)
    (bare / "chat_template.jinja").unlink(missing_ok=True)
    cfg = json.loads((bare / "tokenizer_config.json").read_text())
    cfg.pop("chat_template", None)
    (bare / "tokenizer_config.json").write_text(json.dumps(cfg))
    with pytest.raises(TrainError, match="has no chat template and the config gives none"):
        train(ws, version, str(bare), FAST, progress=False)
    assert cat.list_runs() == []
    assert not any(ws.runs_dir.iterdir())


# --- real runs on the tiny model ---------------------------------------------------------------


def test_train_records_run_and_reuses_it_by_id(ws, version, tiny_model_dir):
    r = train(ws, version, str(tiny_model_dir), {**FAST, "eval_fraction": 0.25, "eval_steps": 2}, seed=1, progress=False)
    assert not r.reused and r.status == "finished"
    assert (r.adapter_dir / "adapter_config.json").exists() and (r.adapter_dir / "adapter_model.safetensors").exists()
    assert (r.adapter_dir / "tokenizer_config.json").exists()
    assert r.adapter_dir.is_absolute() and not (r.run_dir / "checkpoints").exists()
    cat = ws.catalog()
    row = cat.get_run(r.id[:6])
    assert row["status"] == "finished" and row["version_id"] == version and row["mode"] == "lora-fp32"
    assert "no CUDA" in row["mode_reason"] and row["seed"] == 1
    assert row["n_train"] == 12 and row["n_eval"] == 4
    assert row["tokens_per_s"] > 0 and row["peak_mem_mb"] > 0 and row["wall_s"] > 0
    assert row["meta"]["target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert 0 < row["meta"]["mask_fraction_first_batch"] < 1
    steps = cat.run_steps(r.id)
    assert [s["step"] for s in steps if s["loss"] is not None] == [1, 2, 3, 4]
    assert [s["step"] for s in steps if s["eval_loss"] is not None] == [2, 4]
    # sanity generations: the held-out records' prompts first, stored with the run
    assert len(row["sanity"]) == 2 and row["sanity"][0]["record_id"] is not None
    assert {"output", "stopped", "format_ok", "new_tokens"} <= set(row["sanity"][0])

    again = train(ws, version, str(tiny_model_dir), {**FAST, "eval_fraction": 0.25, "eval_steps": 2}, seed=1, progress=False)
    assert again.reused and again.id == r.id and len(cat.list_runs()) == 1
    other_seed = TrainConfig.load({**FAST, "eval_fraction": 0.25, "eval_steps": 2})
    from workbench.train import run_id_for

    assert run_id_for(version, "x", other_seed.resolved(), "lora-fp32", 1) != run_id_for(version, "x", other_seed.resolved(), "lora-fp32", 2)


def test_resume_after_kill_9(ws, version, tiny_model_dir, tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text("max_steps: 16\nbatch_size: 2\nsave_steps: 3\nsanity_prompts: 1\nsanity_max_new_tokens: 4\n")
    args = [sys.executable, "-m", "workbench", "train", "--data", version, "--base", str(tiny_model_dir), "--config", str(config)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy())
    deadline = time.monotonic() + 400  # the shared CPU can be very slow
    checkpoint = None
    while time.monotonic() < deadline and proc.poll() is None:
        found = [c for c in ws.runs_dir.glob("*/checkpoints") if last_checkpoint(c)]  # whole: its state file parses
        if found:
            checkpoint = last_checkpoint(found[0])
            break
        time.sleep(0.05)
    assert checkpoint is not None, f"no checkpoint appeared; trainer exited {proc.poll()}: {proc.stderr.read().decode()[-2000:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    cat = ws.catalog()
    [row] = cat.list_runs()
    assert row["status"] == "running"  # the killed process could not mark anything
    steps_before = {s["step"] for s in cat.run_steps(row["id"])}
    assert steps_before
    # as after a Ray task whose rows never reached the catalog (its driver killed): the resume
    # records the steps before its checkpoint from the checkpoint's own log
    with cat.connect() as con:
        con.execute("DELETE FROM run_steps WHERE run_id = ?", [row["id"]])

    out = run_cli_here("train", "--data", version, "--base", str(tiny_model_dir), "--config", str(config))
    assert "resumed from checkpoint-" in out.stdout
    [row] = cat.list_runs()
    assert row["status"] == "finished" and row["attempts"] == 2 and row["meta"]["global_steps"] == 16
    assert row["meta"]["resumed_from"].startswith("checkpoint-")
    steps = [s["step"] for s in cat.run_steps(row["id"]) if s["loss"] is not None]
    assert steps == list(range(1, 17))  # every step once, none twice
    # asking again returns the finished run
    out = run_cli_here("train", "--data", version, "--base", str(tiny_model_dir), "--config", str(config))
    assert "reused" in out.stdout and len(cat.list_runs()) == 1


def test_a_kill_after_the_last_checkpoint_resumes_without_training_another_step(ws, version, tiny_model_dir, tmp_path, monkeypatch):
    """Killed after the final checkpoint (checkpoint-5 of 5 steps, one step into the second epoch of
    4 batches) but before the run was marked finished: the rerun has nothing left to train.
    transformers would still take a sixth step from such a checkpoint (it checks max_steps only
    after a step); the rerun loads it and saves its adapter instead."""
    cfg = {**FAST, "max_steps": 5, "save_steps": 5}
    from safetensors.torch import load_file

    import workbench.train.sft as sft

    def killed(*a, **kw):
        raise KeyboardInterrupt  # after the adapter and every checkpoint are written, before finish_run

    monkeypatch.setattr(sft, "sanity_generations", killed)
    with pytest.raises(KeyboardInterrupt):
        train(ws, version, str(tiny_model_dir), cfg, seed=1, progress=False)
    cat = ws.catalog()
    [row] = cat.list_runs()
    assert row["status"] == "running"
    final = last_checkpoint(Path(row["run_dir"]) / "checkpoints")
    assert final.name == "checkpoint-5"
    trained = load_file(final / "adapter_model.safetensors")

    monkeypatch.undo()
    again = train(ws, version, str(tiny_model_dir), cfg, seed=1, progress=False)
    assert again.resumed_from == "checkpoint-5" and not again.reused
    [row] = cat.list_runs()
    assert row["status"] == "finished" and row["meta"]["global_steps"] == 5
    assert [s["step"] for s in cat.run_steps(row["id"]) if s["loss"] is not None] == [1, 2, 3, 4, 5]
    saved = load_file(again.adapter_dir / "adapter_model.safetensors")
    assert saved.keys() == trained.keys()
    assert all(torch.equal(saved[k], trained[k]) for k in trained)  # the checkpoint's weights, not a step on
    assert row["train_tokens"] == 0 and row["tokens_per_s"] is None  # this attempt trained nothing


def test_a_checkpoint_cut_short_while_saving_is_not_resumed_from(tmp_path):
    """kill -9 while the Trainer writes trainer_state.json (its last file) leaves it missing, empty or
    cut short: the resume takes the newest whole checkpoint instead of crashing on that one."""
    root = tmp_path / "checkpoints"
    for step, state in ((3, '{"global_step": 3}'), (6, ""), (9, '{"global_st'), (12, None)):
        (root / f"checkpoint-{step}").mkdir(parents=True)
        if state is not None:
            (root / f"checkpoint-{step}" / "trainer_state.json").write_text(state)
    assert last_checkpoint(root) == root / "checkpoint-3"
    (root / "checkpoint-9" / "trainer_state.json").write_text('{"global_step": 9}')
    assert last_checkpoint(root) == root / "checkpoint-9"


def test_merge_matches_adapter_outputs(ws, version, tiny_model_dir, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.train import load_for_inference

    r = train(ws, version, str(tiny_model_dir), {**FAST, "lr": 1e-2}, progress=False)
    assert load_for_inference(ws, r.id[:8]) == (str(tiny_model_dir.resolve()), r.adapter_dir)
    out = run_cli_here("train", "merge", r.id[:8], "--out", str(tmp_path / "merged"))
    assert "merged model written" in out.stdout
    tok = AutoTokenizer.from_pretrained(tmp_path / "merged")
    x = tok("What is 3 plus 3?", return_tensors="pt")
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged").eval()
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    with torch.no_grad():
        base_logits = base(**x).logits
        adapted = PeftModel.from_pretrained(base, str(r.adapter_dir)).eval()
        adapter_logits = adapted(**x).logits
        merged_logits = merged(**x).logits
    assert not torch.allclose(base_logits, adapter_logits, atol=1e-3)  # the adapter changed something
    torch.testing.assert_close(merged_logits, adapter_logits, atol=1e-4, rtol=1e-4)
    assert not any(p.name.startswith("adapter") for p in (tmp_path / "merged").iterdir())
    # merging again into a non-empty directory is refused, not overwritten
    bad = run_cli_here("train", "merge", r.id, "--out", str(tmp_path / "merged"), check=False)
    assert bad.returncode == 2 and "not empty" in bad.stderr


def test_cli_show_and_unknown_run(ws, version, tiny_model_dir):
    r = train(ws, version, str(tiny_model_dir), FAST, progress=False)
    out = run_cli_here("train", "show", r.id)
    assert r.id in out.stdout and "lora-fp32" in out.stdout and "sanity generations" in out.stdout
    data = json.loads(run_cli_here("train", "show", r.id, "--json").stdout)
    assert data["id"] == r.id and len(data["steps"]) == 4
    assert r.id in run_cli_here("train", "list").stdout
    bad = run_cli_here("train", "show", "ffffffff", check=False)
    assert bad.returncode == 2 and "no training run" in bad.stderr
    bad = run_cli_here("train", "--data", version, "--base", str(tiny_model_dir), "--quant", "int3", check=False)
    assert bad.returncode == 2 and "unknown quant" in bad.stderr
