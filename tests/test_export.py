"""GGUF export: a real run on the tiny llama, merged, written with gguf's writer, loaded back by
transformers (`gguf_file=`), and compared with the merged model on greedy generations."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import run_cli_here
from tests.test_train import FAST, arithmetic_records
from workbench.data.store import save_version
from workbench.train import merge_run, train
from workbench.train.gguf import ExportError, export_run, write_gguf

PROMPTS = ["What is 3 plus 3?", "What is 11 plus 11?", "Say hello.", "Name a colour."]


def _greedy(model, tok, prompt: str, n: int = 16) -> torch.Tensor:
    enc = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    with torch.no_grad():
        return model.generate(**enc, max_new_tokens=n, do_sample=False, pad_token_id=tok.pad_token_id)[0]


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_model_dir):
    """One finished run exported at both precisions, plus its merged model (shared by the tests)."""
    from workbench.core.workspace import Workspace

    root = tmp_path_factory.mktemp("export")
    ws = Workspace(root / "home")
    vid = save_version(ws, arithmetic_records(), "toy", "ingest").id
    run = train(ws, vid, str(tiny_model_dir), {**FAST, "lr": 5e-3}, seed=0, progress=False)
    merged = merge_run(ws, run.id, root / "merged")
    files = {q: export_run(ws, run.id, root / f"run-{q}.gguf", q) for q in ("f16", "q8_0")}
    return ws, run, merged, files


def test_f16_round_trip_gives_identical_greedy_generations(exported):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, _, merged, files = exported
    exp = files["f16"]
    assert exp.quant == "f16" and exp.architecture == "llama" and exp.bytes > 0
    ref = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(merged)
    back = AutoModelForCausalLM.from_pretrained(exp.path.parent, gguf_file=exp.path.name, dtype=torch.float32).eval()
    gtok = AutoTokenizer.from_pretrained(exp.path.parent, gguf_file=exp.path.name)
    assert back.config.num_hidden_layers == ref.config.num_hidden_layers and back.config.tie_word_embeddings
    for p in PROMPTS:
        # the tokenizer travels in the file: the same ids for the same chat
        msgs = [{"role": "user", "content": p}]
        assert gtok.apply_chat_template(msgs, add_generation_prompt=True) == tok.apply_chat_template(msgs, add_generation_prompt=True)
        assert _greedy(back, tok, p).tolist() == _greedy(ref, tok, p).tolist(), p


def test_q8_0_rule_top1_agreement(exported):
    """q8_0 rounds every weight to 8 bits per block of 32: generations may part at a near tie, so
    the rule is teacher-forced: on the merged model's greedy continuations, q8_0's top-1 token
    agrees at >= 95% of positions and its logits stay within 0.1 of the merged model's."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, _, merged, files = exported
    exp = files["q8_0"]
    assert exp.bytes < files["f16"].bytes
    ref = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(merged)
    back = AutoModelForCausalLM.from_pretrained(exp.path.parent, gguf_file=exp.path.name, dtype=torch.float32).eval()
    agree = total = 0
    worst = 0.0
    for p in PROMPTS:
        seq = _greedy(ref, tok, p)[None]
        with torch.no_grad():
            a, b = ref(seq).logits[0], back(seq).logits[0]
        agree += int((a.argmax(-1) == b.argmax(-1)).sum())
        total += a.shape[0]
        worst = max(worst, float((a - b).abs().max()))
    assert agree / total >= 0.95, (agree, total)
    assert worst < 0.1, worst


def test_export_errors(exported, tmp_path, tiny_model_dir):
    ws, run, _, _ = exported
    with pytest.raises(ExportError, match="unknown GGUF quantization 'q4'"):
        export_run(ws, run.id, tmp_path / "x.gguf", "q4")
    with pytest.raises(ExportError, match="is a directory"):
        export_run(ws, run.id, tmp_path, "f16")
    from transformers import GPT2Config, GPT2LMHeadModel

    gpt2 = tmp_path / "gpt2"
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=64)).save_pretrained(gpt2)
    with pytest.raises(ExportError, match="supports the llama architecture, not 'gpt2'"):
        write_gguf(gpt2, tmp_path / "g.gguf")
    assert not list(tmp_path.glob("*.gguf*"))


def test_cli_export(exported, tmp_path, monkeypatch):
    ws, run, _, _ = exported
    out = tmp_path / "cli.gguf"
    proc = run_cli_here("train", "export", run.id[:10], "--gguf", str(out), "--quant", "q8_0",
                        env={"WORKBENCH_HOME": str(ws.home)})
    assert out.exists() and "q8_0" in proc.stdout
    bad = run_cli_here("train", "export", run.id, "--gguf", str(tmp_path / "y.gguf"), "--quant", "q5",
                       env={"WORKBENCH_HOME": str(ws.home)}, check=False)
    assert bad.returncode != 0 and "unknown GGUF quantization" in (bad.stdout + bad.stderr)
