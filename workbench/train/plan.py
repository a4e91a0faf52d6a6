"""Peak-memory plan for a training run, before it runs: `workbench train plan` and `--auto-batch`.

The estimate adds, for the run's device (RAM on CPU, VRAM on CUDA):
- runtime: the process with torch/transformers/trl/peft imported (measured live on CPU);
- weights: every parameter at the mode's precision (fp32, bf16, or nf4 with double quant for
  the linear layers, the rest in the compute dtype);
- LoRA: adapter parameters, their gradients and AdamW's two moments (fp32);
- activations for the peak micro-batch (batch size x the longest rendered sequence, as the
  collator pads to the longest in a batch): per layer and token, ACT_PER_HI values per
  (hidden + intermediate) unit, or with gradient checkpointing CKPT_PER_H per hidden unit plus
  one layer recomputed; and the full-vocabulary logits with their copies in the loss.

Per method: dpo runs each pair's chosen and rejected sequences through the model together (two
sequences per example, as long as the longer of prompt + chosen and prompt + rejected); grpo's
sequences are the prompt plus max_completion_length. Both use TRL's fused LM head, which scores
the vocabulary in tiles (at most FUSED_TOKENS x FUSED_VOCAB logits at a time) instead of holding
every token's full-vocabulary logits, so their logit term is bounded by one tile.

ACT_PER_HI, CKPT_PER_H and LOGIT_COPIES were fitted once to a forward+backward micro-measurement
of SmolLM2-135M (LoRA on every projection, fp32, CPU: `benchmarks/plan.py --calibrate`) and are
checked against the peak RSS of real training runs in benchmarks/README.md ("Memory planning").
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from workbench.data.store import load_records, version_kind
from workbench.core.device import detect, placement
from workbench.core.hashing import model_identity
from workbench.core.memory import HEADROOM  # a suggestion fills at most this share of the memory available
from workbench.core.models import DEFAULT_MODEL
from workbench.train.config import TrainConfig, TrainError
from workbench.train.methods import check_kind, get_method
from workbench.train.render import prepare_tokenizer, resolve_targets

MIB = 2**20
ACT_PER_HI = 7.8  # saved values per token per layer per (hidden + intermediate), LoRA everywhere
CKPT_PER_H = 2.0  # with gradient checkpointing: kept per token per layer per hidden unit
LOGIT_COPIES = 7.5  # full-vocabulary fp32 copies: logits, log-softmax, their gradients and temporaries
FUSED_TOKENS, FUSED_VOCAB = 4096, 32768  # trl.kernels.chunked_logprob: TOKEN_CHUNK_SIZE, the chunk of the vocabulary
FUSED_TILE_COPIES = 3.0  # the tile, its exp and the gradient computed in place (an assumption from the kernel's code)
CUDA_RUNTIME_MB = 600.0  # CUDA context + allocator slack (an assumption: not measured, no GPU here)


@dataclass(frozen=True)
class ModelShape:
    params: int
    linear_params: int  # inside the decoder layers (what nf4 quantizes)
    layers: int
    hidden: int
    intermediate: int
    kv_dim: int
    vocab: int


@dataclass(frozen=True)
class Suggestion:
    batch_size: int
    grad_accum: int
    gradient_checkpointing: bool
    total_mb: float


@dataclass(frozen=True)
class MemoryPlan:
    device: str
    mode: str
    batch_size: int
    grad_accum: int
    seq_len: int  # tokens per sequence in the peak micro-batch
    gradient_checkpointing: bool
    runtime_mb: float
    weights_mb: float
    lora_mb: float  # parameters + gradients + AdamW moments
    lora_params: int
    activations_mb: float  # without gradient checkpointing
    activations_ckpt_mb: float  # with it
    available_mb: float
    suggestion: Suggestion | None
    method: str = "sft"
    sequences_per_example: int = 1  # dpo: 2 (chosen and rejected)

    @property
    def total_mb(self) -> float:
        act = self.activations_ckpt_mb if self.gradient_checkpointing else self.activations_mb
        return self.runtime_mb + self.weights_mb + self.lora_mb + act

    @property
    def fits(self) -> bool:
        return self.total_mb <= self.available_mb

    def as_dict(self) -> dict:
        return {**asdict(self), "total_mb": self.total_mb, "fits": self.fits}


def model_shape(path: str) -> ModelShape:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = AutoConfig.from_pretrained(path)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg)
    linear = sum(m.weight.numel() for n, m in model.named_modules()
                 if isinstance(m, torch.nn.Linear) and ".layers." in f".{n}")
    heads = cfg.num_attention_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    return ModelShape(sum(p.numel() for p in model.parameters()), linear, cfg.num_hidden_layers, cfg.hidden_size,
                      getattr(cfg, "intermediate_size", 4 * cfg.hidden_size),
                      getattr(cfg, "num_key_value_heads", heads) * head_dim, cfg.vocab_size)


def lora_param_count(model_path: str, targets: list[str], r: int) -> int:
    """r x (in + out) for every targeted linear layer."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_path))
    return sum(r * (m.in_features + m.out_features) for n, m in model.named_modules()
               if isinstance(m, torch.nn.Linear) and n.rsplit(".", 1)[-1] in targets and "lm_head" not in n)


def weights_bytes(shape: ModelShape, mode: str) -> float:
    if mode == "qlora-nf4":  # 4 bits + double-quantized absmax (~0.127 bits) per linear weight; the rest bf16
        return shape.linear_params * (4 + 0.127) / 8 + (shape.params - shape.linear_params) * 2
    return shape.params * (2 if mode == "lora-bf16" else 4)


def activation_bytes(shape: ModelShape, tokens: int, checkpointing: bool, value_bytes: int = 4,
                     fused_head: bool = False) -> float:
    """Saved activations of one micro-batch of `tokens` tokens (sequences x padded length); with
    `fused_head` (TRL's dpo and grpo) the logits are one tile at a time, not every token's."""
    per_layer = ACT_PER_HI * (shape.hidden + shape.intermediate) * value_bytes
    if fused_head:
        logits = FUSED_TILE_COPIES * min(tokens, FUSED_TOKENS) * min(shape.vocab, FUSED_VOCAB) * 4
    else:
        logits = tokens * LOGIT_COPIES * shape.vocab * 4  # the loss upcasts to fp32
    if checkpointing:
        return tokens * (shape.layers * CKPT_PER_H * shape.hidden * value_bytes + per_layer) + logits
    return tokens * shape.layers * per_layer + logits


def runtime_mb(device: str) -> float:
    """The process before the model: measured here on CPU (the libraries training imports)."""
    if device == "cuda":
        return CUDA_RUNTIME_MB
    import peft  # noqa: F401 - imported so the figure is what the training process holds
    import psutil
    import transformers  # noqa: F401
    import trl  # noqa: F401

    return psutil.Process().memory_info().rss / MIB


def available_mb(device: str) -> float:
    if device == "cuda":
        return detect().vram_mb or 0.0
    import psutil

    return psutil.virtual_memory().available / MIB


def estimate(shape: ModelShape, mode: str, device: str, cfg: TrainConfig, seq_len: int, lora_params: int,
             runtime: float, available: float) -> MemoryPlan:
    value_bytes = 4 if mode == "lora-fp32" or device == "cpu" else 2
    lora = lora_params * 4 * 4 / MIB  # fp32 parameters, gradients and two AdamW moments
    method = get_method(cfg.method)  # what one example puts in a micro-batch, and whether the LM head is fused
    per_example = method.sequences_per_example

    def at(batch: int, ckpt: bool) -> float:
        return activation_bytes(shape, batch * per_example * seq_len, ckpt, value_bytes, method.fused_head) / MIB

    fixed = runtime + weights_bytes(shape, mode) / MIB + lora
    effective = cfg.batch_size * cfg.grad_accum
    suggestion = None
    for ckpt in (False, True):  # the largest micro-batch that fits, without checkpointing if possible
        for b in range(effective, 0, -1):
            total = fixed + at(b, ckpt)
            if total <= HEADROOM * available:
                suggestion = Suggestion(b, math.ceil(effective / b), ckpt, total)
                break
        if suggestion:
            break
    return MemoryPlan(device, mode, cfg.batch_size, cfg.grad_accum, seq_len, cfg.gradient_checkpointing, runtime,
                      weights_bytes(shape, mode) / MIB, lora, lora_params, at(cfg.batch_size, False),
                      at(cfg.batch_size, True), available, suggestion, cfg.method, per_example)


def _chat_tokens(tokenizer, messages: list[dict], generation_prompt: bool = False) -> int:
    return len(tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=generation_prompt,
                                             return_dict=True)["input_ids"])


def row_tokens(row: dict, tokenizer, cfg: TrainConfig) -> int:
    """Tokens of one prepared training row as the method's trainer feeds it to the model."""
    if "chosen" in row:  # a pair: the longer of prompt + chosen and prompt + rejected, truncated at max_length
        longest = max(_chat_tokens(tokenizer, row["prompt"] + row[k]) for k in ("chosen", "rejected"))
        return min(longest, cfg.max_length)
    if "input_ids" not in row:  # a prompt: then up to the tokens the method generates (grpo.max_completion_length)
        return _chat_tokens(tokenizer, row["prompt"], generation_prompt=True) + cfg.completion_tokens()
    return min(len(row["input_ids"]), cfg.max_length)


def peak_seq_len(ws, data_ref: str, model_path: str, cfg: TrainConfig) -> int:
    """The longest training sequence of the method's prepared rows (sft: max_length when packing)."""
    method = get_method(cfg.method)
    if cfg.packing and method.kind == "sft":
        return cfg.max_length
    version = ws.catalog().resolve_version(data_ref)
    records = load_records(ws, version["id"])
    check_kind(method, version_kind(records, version["name"]), version["name"])
    tokenizer = prepare_tokenizer(model_path, cfg.chat_template)
    data = method.prepare_fn()(records, tokenizer, cfg, 0)
    return max(row_tokens(r, tokenizer, cfg) for r in data.train)


def plan(ws, data_ref: str, base: str | None = None, config=None, quant: str = "auto",
         memory_mb: float | None = None) -> MemoryPlan:
    """The memory plan of training `data_ref` on `base` with `config`; `memory_mb` overrides what is available."""
    if memory_mb is not None and memory_mb <= 0:
        raise TrainError(f"--memory must be a positive number of MiB, got {memory_mb}")
    cfg = TrainConfig.load(config)
    path = model_identity(str(base or DEFAULT_MODEL))["path"]
    p = placement(quant)
    seq = peak_seq_len(ws, data_ref, path, cfg)
    targets = resolve_targets(path, cfg.target_modules)
    return estimate(model_shape(path), p.mode, p.device, cfg, seq, lora_param_count(path, targets, cfg.r),
                    runtime_mb(p.device), memory_mb if memory_mb is not None else available_mb(p.device))


def apply_suggestion(config, mem: MemoryPlan) -> TrainConfig:
    """The config with the plan's batch size, grad_accum and checkpointing (the run id follows them)."""
    cfg = TrainConfig.load(config)
    s = mem.suggestion
    if s is None:
        raise TrainError(f"no batch size fits: even batch 1 with gradient checkpointing needs more than "
                         f"{HEADROOM:.0%} of the {mem.available_mb:,.0f} MiB available; shorten max_length or use a smaller model")
    return cfg.model_copy(update={"batch_size": s.batch_size, "grad_accum": s.grad_accum,
                                  "gradient_checkpointing": s.gradient_checkpointing or cfg.gradient_checkpointing})

