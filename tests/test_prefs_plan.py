"""Memory planning for dpo and grpo on the tiny llama: a pair is two sequences (chosen and
rejected) as long as the longer one, a grpo row is its prompt plus max_completion_length, both
trainers' fused LM head bounds the logits by one tile, and the wrong kind of data is refused."""

from __future__ import annotations

import pytest

from tests.test_prefs import FAST, _pairs, _prompts
from workbench.data.records import make_record
from workbench.data.store import save_version
from workbench.train import TrainError, prepare_tokenizer
from workbench.train.config import TrainConfig
from workbench.train.dpo import pair_row
from workbench.train.plan import ACT_PER_HI, FUSED_TOKENS, MIB, ModelShape, activation_bytes, model_shape, plan

SMOL = ModelShape(params=134_515_008, linear_params=106_168_320, layers=30, hidden=576, intermediate=1536,
                  kv_dim=192, vocab=49152)


def _tokens(tok, messages, generation_prompt=False) -> int:
    return len(tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=generation_prompt,
                                       return_dict=True)["input_ids"])


def test_dpo_plans_two_sequences_per_pair_as_long_as_the_longer(ws, tiny_model_dir):
    pairs = _pairs()
    version = save_version(ws, pairs, "pairs", "ingest").id
    cfg = {**FAST, "method": "dpo", "batch_size": 3}
    p = plan(ws, version, str(tiny_model_dir), cfg)
    tok = prepare_tokenizer(str(tiny_model_dir), None)
    rows = [pair_row(r) for r in pairs]
    assert p.seq_len == max(_tokens(tok, r["prompt"] + r[k]) for r in rows for k in ("chosen", "rejected"))
    assert (p.method, p.sequences_per_example) == ("dpo", 2)
    sft = plan(ws, save_version(ws, [make_record(r.messages) for r in pairs], "sft", "ingest").id, str(tiny_model_dir),
               {**FAST, "batch_size": 3})
    shape = model_shape(str(tiny_model_dir))
    assert p.activations_mb == pytest.approx(activation_bytes(shape, 3 * 2 * p.seq_len, False, fused_head=True) / MIB)
    assert sft.sequences_per_example == 1
    assert sft.activations_mb == pytest.approx(activation_bytes(shape, 3 * sft.seq_len, False) / MIB)
    with pytest.raises(TrainError, match="sft trains on sft records, but version pairs is not that.*--method dpo"):
        plan(ws, version, str(tiny_model_dir), FAST)


def test_grpo_plans_the_prompt_plus_the_completion(ws, tiny_model_dir):
    prompts = _prompts()
    version = save_version(ws, prompts, "prompts", "ingest").id
    cfg = {**FAST, "method": "grpo", "grpo": {"rewards": ["gsm_answer"], "num_generations": 2, "max_completion_length": 40}}
    p = plan(ws, version, str(tiny_model_dir), cfg)
    tok = prepare_tokenizer(str(tiny_model_dir), None)
    from workbench.train.render import conversation

    assert p.seq_len == max(_tokens(tok, conversation(r), True) for r in prompts) + 40
    assert p.sequences_per_example == 1 and TrainConfig.load(cfg).method == "grpo"


def test_the_fused_head_bounds_the_logits_by_one_tile():
    per_token_layers = SMOL.layers * ACT_PER_HI * (SMOL.hidden + SMOL.intermediate) * 4
    plain = [activation_bytes(SMOL, n, False) for n in (1000, 2000)]
    fused = [activation_bytes(SMOL, n, False, fused_head=True) for n in (1000, 2 * FUSED_TOKENS, 4 * FUSED_TOKENS)]
    assert plain[1] == pytest.approx(2 * plain[0]) and fused[0] < 0.7 * plain[0]  # 49k-vocab logits: ~40% of it
    assert fused[2] - fused[1] == pytest.approx(2 * FUSED_TOKENS * per_token_layers)  # past one tile only the layers grow
