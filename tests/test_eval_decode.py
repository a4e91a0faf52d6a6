"""Greedy decoding that drops finished rows: the same tokens and texts as transformers' generate
and lm-eval's own path, with rows leaving the batch at EOS or at a stop string."""

from __future__ import annotations

import json
import shutil

import pytest

from workbench.evals import runner
from workbench.evals.decode import greedy_decode
from workbench.evals.suites import select

PROMPTS = ["What is 2 plus 2?", "Name a colour.", "Write a very long story about the sea and the sky, please.",
           "Hi", "Translate 'cat' to French.", "Count to ten."]


@pytest.fixture(scope="module")
def noisy_model_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model with larger random weights: it answers with varied tokens, not one repeated."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    out = tmp_path_factory.mktemp("noisy-model")
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def model_and_batch(noisy_model_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(noisy_model_dir)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(noisy_model_dir, dtype=torch.float32).eval()
    texts = [tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
             for p in PROMPTS]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    return model, tok, enc


def _hf(model, tok, enc, n, eos):
    import torch

    with torch.no_grad():
        return model.generate(**enc, max_new_tokens=n, do_sample=False, eos_token_id=eos, pad_token_id=tok.pad_token_id)


def test_rows_stopped_at_eos_match_generate(model_and_batch):
    model, tok, enc = model_and_batch
    n, ctx = 16, enc["input_ids"].shape[1]
    free = _hf(model, tok, enc, n, eos=[tok.eos_token_id])[:, ctx:]
    # "EOS" tokens that rows reach at different steps (1, 3, 8); the other rows run to the end
    eos = [int(free[4, 1]), int(free[0, 3]), int(free[2, 8])]
    stopped_at = [min((row.tolist().index(e) for e in eos if e in row.tolist()), default=None) for row in free]
    assert stopped_at[4] == 1 and stopped_at[0] == 3 and stopped_at[2] == 8 and None in stopped_at
    model.generation_config.eos_token_id = eos
    try:
        want = _hf(model, tok, enc, n, eos=eos)
        got = greedy_decode(model, tok, enc["input_ids"], enc["attention_mask"], n, [], tok.pad_token_id)
    finally:
        model.generation_config.eos_token_id = tok.eos_token_id
    # generate ends when every row is done; greedy_decode returns the full width, padded
    assert got.shape[1] == ctx + n
    assert got[:, : want.shape[1]].tolist() == want.tolist()
    assert (got[:, want.shape[1]:] == tok.pad_token_id).all()


def test_rows_stopped_at_a_stop_string_keep_the_text_before_it(model_and_batch):
    model, tok, enc = model_and_batch
    n, ctx = 16, enc["input_ids"].shape[1]
    free = _hf(model, tok, enc, n, eos=[tok.eos_token_id])[:, ctx:]
    texts = [tok.decode(r) for r in free]
    stops = [tok.decode(free[1, 5:7]), tok.decode(free[3, 10:11])]  # one spans a token boundary
    assert all(s.strip() for s in stops)
    got = greedy_decode(model, tok, enc["input_ids"], enc["attention_mask"], n, stops, tok.pad_token_id)[:, ctx:]
    ended = 0
    for full, row in zip(texts, got):
        text = tok.decode(row, skip_special_tokens=True)
        cut = lambda t: min((t.split(s)[0] for s in stops), key=len)  # noqa: E731 - lm-eval's cut
        assert cut(text) == cut(full)
        if any(s in full for s in stops):  # this row left the batch right after its stop string
            ended += 1
            assert any(text.endswith(s) for s in stops) and (row == tok.pad_token_id).any()
    assert ended >= 2


def test_runner_outputs_equal_lm_evals_own_generate(ws, noisy_model_dir, tmp_path):
    """Suites with and without stop strings, on a model whose rows end at EOS at different steps."""
    from transformers import AutoTokenizer

    runner._prepare_offline()
    suites = select("gsm_style,think_follow,ifeval_style", "smoke")
    # tokens that some answers produce early count as EOS (in generation_config.json, which both
    # paths read), so rows leave their batches at different steps
    tok = AutoTokenizer.from_pretrained(noisy_model_dir)
    first = runner._load_lm(runner.resolve_target(ws, str(noisy_model_dir)), 4, "hf", early_stop=False)
    answers = [x["response"] for suite in suites for x in runner._run_suite(first, suite, "smoke", 5, 24).samples]
    ids = [tok(a, add_special_tokens=False)["input_ids"] for a in answers]
    eos = sorted({row[k] for i, (row, k) in enumerate(zip(ids, [2, 5, 9, 14] * len(ids))) if i % 3 == 0 and len(row) > k})
    model_dir = tmp_path / "eos-model"
    shutil.copytree(noisy_model_dir, model_dir)
    gen = json.loads((model_dir / "generation_config.json").read_text())
    (model_dir / "generation_config.json").write_text(json.dumps({**gen, "eos_token_id": [tok.eos_token_id, *eos]}))

    target = runner.resolve_target(ws, str(model_dir))
    fast = runner._load_lm(target, 4, "hf")
    plain = runner._load_lm(target, 4, "hf", early_stop=False)
    assert type(fast).__name__ == "EarlyStopHFLM" and type(plain).__name__ == "HFLM"
    lengths = []
    for suite in suites:
        a = runner._run_suite(fast, suite, "smoke", 5, 24).samples
        b = runner._run_suite(plain, suite, "smoke", 5, 24).samples
        assert [(x["item_id"], x["response"], x["scores"]) for x in a] == \
               [(x["item_id"], x["response"], x["scores"]) for x in b], suite.name
        lengths += [len(tok(x["response"], add_special_tokens=False)["input_ids"]) for x in a]
    assert min(lengths) < 12 and max(lengths) >= 20  # some rows stopped early, some ran long
