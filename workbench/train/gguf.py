"""GGUF export: a finished run's merged model written with the `gguf` package's writer, for
llama.cpp and the tools built on it (Ollama, LM Studio, ...).

Only the llama architecture (SmolLM2, Llama, TinyLlama, ...) is written; its tensor names come
from gguf's own name map and q/k projections are permuted the way llama.cpp's converter does
(transformers reverses that when it loads the file with `gguf_file=`). The tokenizer (GPT-2
style byte-level BPE: tokens, types, merges, special ids, chat template) goes in the same file.

Quantization: `f16` (2-D weights in float16, norms in float32) or `q8_0` (2-D weights in
llama.cpp's 8-bit blocks of 32; tensors whose rows are not a multiple of 32 stay f16).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from workbench.train.config import TrainError

QUANTS = ("f16", "q8_0")


class ExportError(TrainError):
    """A model or run that cannot be exported as GGUF; the message says why."""


@dataclass(frozen=True)
class GGUFExport:
    path: Path
    quant: str
    architecture: str
    n_tensors: int
    n_params: int
    bytes: int
    tokenizer_pre: str


def _permute(w, n_head: int, n_head_kv: int | None = None):
    """llama.cpp's q/k row order (rotary halves interleaved per head)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _tokenizer_pre(tokenizer_json: dict) -> str:
    """llama.cpp's pre-tokenizer name: 'smollm' for SmolLM's (digits one by one, then byte-level),
    'gpt-2' for a plain byte-level split with GPT-2's regex, else 'default' (llama.cpp's generic one)."""
    pre = tokenizer_json.get("pre_tokenizer") or {}
    kinds = [p.get("type") for p in (pre.get("pretokenizers") or [pre])]
    if kinds == ["Digits", "ByteLevel"]:
        return "smollm"
    if kinds == ["ByteLevel"] and pre.get("use_regex", True):
        return "gpt-2"
    return "default"


def _add_tokenizer(w, model_dir: Path, vocab_size: int) -> str:
    import gguf
    from gguf.vocab import BpeVocab, SpecialVocab

    tj_path = model_dir / "tokenizer.json"
    if not tj_path.exists():
        raise ExportError(f"{model_dir}: no tokenizer.json (a fast byte-level BPE tokenizer is needed for GGUF)")
    try:
        vocab = BpeVocab(model_dir)
    except (FileNotFoundError, ValueError) as e:
        raise ExportError(f"{model_dir}: tokenizer is not GPT-2 style byte-level BPE ({e})") from None
    tokens, types = [], []
    special = {t["content"] for t in json.loads(tj_path.read_text()).get("added_tokens", []) if t.get("special")}
    for text, _score, ttype in vocab.all_tokens():
        s = text.decode("utf-8") if isinstance(text, bytes) else text
        tokens.append(s)
        types.append(gguf.TokenType.CONTROL if s in special else ttype)
    if len(tokens) > vocab_size:
        raise ExportError(f"{model_dir}: tokenizer has {len(tokens)} tokens but the model's vocab_size is {vocab_size}")
    for i in range(len(tokens), vocab_size):  # embedding rows past the tokenizer: padding tokens
        tokens.append(f"[PAD{i}]")
        types.append(gguf.TokenType.UNUSED)
    pre = _tokenizer_pre(json.loads(tj_path.read_text()))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    SpecialVocab(model_dir, load_merges=True, n_vocab=vocab_size).add_to_gguf(w, quiet=True)
    return pre


def _tensor(name: str, t, quant: str):
    """(array, raw dtype or None) for one tensor at the export precision."""
    import numpy as np
    from gguf import GGMLQuantizationType, quants

    a = t.detach().to("cpu").float().numpy()
    if a.ndim == 1:
        return a.astype(np.float32), None
    if quant == "q8_0" and a.shape[-1] % 32 == 0:
        return quants.quantize(a, GGMLQuantizationType.Q8_0), GGMLQuantizationType.Q8_0
    return a.astype(np.float16), None


def write_gguf(model_dir: str | os.PathLike, out: str | os.PathLike, quant: str = "f16", name: str | None = None) -> GGUFExport:
    """Write a llama-architecture transformers model directory (merged weights + tokenizer) as one GGUF file."""
    import gguf
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    if quant not in QUANTS:
        raise ExportError(f"unknown GGUF quantization {quant!r}: use one of {', '.join(QUANTS)}")
    model_dir, out = Path(model_dir), Path(out)
    cfg = AutoConfig.from_pretrained(model_dir)
    if cfg.model_type != "llama":
        raise ExportError(f"{model_dir}: GGUF export supports the llama architecture, not {cfg.model_type!r}")
    if getattr(cfg, "rope_scaling", None) and (cfg.rope_scaling or {}).get("rope_type", "default") != "default":
        raise ExportError(f"{model_dir}: rope scaling {cfg.rope_scaling} is not written to GGUF yet")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    n_layers, n_head, n_kv = cfg.num_hidden_layers, cfg.num_attention_heads, cfg.num_key_value_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // n_head
    rope = (getattr(cfg, "rope_parameters", None) or {}).get("rope_theta") or getattr(cfg, "rope_theta", 10000.0)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    w = gguf.GGUFWriter(str(tmp), "llama")
    w.add_name(name or model_dir.name)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(n_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_rope_freq_base(float(rope))
    w.add_rope_dimension_count(head_dim)
    w.add_layer_norm_rms_eps(float(cfg.rms_norm_eps))
    w.add_vocab_size(cfg.vocab_size)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if quant == "f16" else gguf.LlamaFileType.MOSTLY_Q8_0)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    pre = _add_tokenizer(w, model_dir, cfg.vocab_size)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, n_layers)
    n_tensors = n_params = 0
    for hf_name, t in model.state_dict().items():
        if hf_name == "lm_head.weight" and cfg.tie_word_embeddings:
            continue  # tied: llama.cpp reuses token_embd (and transformers ties on load when output.weight is absent)
        base, _, suffix = hf_name.rpartition(".")
        mapped = names.get_name(base)
        if mapped is None:
            raise ExportError(f"{model_dir}: tensor {hf_name} has no GGUF name for llama")
        if hf_name.endswith("q_proj.weight"):
            t = _permute(t, n_head, n_head)
        elif hf_name.endswith("k_proj.weight"):
            t = _permute(t, n_head, n_kv)
        arr, raw = _tensor(hf_name, t, quant)
        w.add_tensor(f"{mapped}.{suffix}", arr, raw_dtype=raw)
        n_tensors += 1
        n_params += t.numel()
    try:
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return GGUFExport(out, quant, "llama", n_tensors, n_params, out.stat().st_size, pre)


def export_run(ws, run_id: str, out: str | os.PathLike, quant: str = "f16") -> GGUFExport:
    """Merge a finished run's adapter into its base model and write the result as GGUF at `out`."""
    from workbench.train.merge import merge_run

    if quant not in QUANTS:
        raise ExportError(f"unknown GGUF quantization {quant!r}: use one of {', '.join(QUANTS)}")
    out = Path(out)
    if out.is_dir():
        raise ExportError(f"{out} is a directory; give the path of the .gguf file to write")
    run = ws.catalog().get_run(run_id)
    work = Path(tempfile.mkdtemp(prefix="wb-export-"))
    try:
        merged = merge_run(ws, run["id"], work / "merged")
        return write_gguf(merged, out, quant, name=f"workbench-run-{run['id']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
