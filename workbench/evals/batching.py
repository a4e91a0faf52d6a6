"""How many rows the eval runner puts in a batch on CPU: pure arithmetic, so the ETA
(workbench.ablate.estimate) prices what workbench.evals.decode runs without importing lm-eval.

- Likelihood: a batch holds every row's full-vocabulary fp32 logits and their log-softmax; it drops
  (never rises) to what fits the memory budget's room.
- Generation: up to GEN_BATCH rows at once where their KV cache fits. A CPU decoding step is bound by
  reading the weights, not by the rows: 32 rows took 1.5x the time of 16 a step (SmolLM2-135M, 2
  cores), and one batch of 30 prompts pays its longest answer's steps once instead of twice.
"""

from __future__ import annotations


# fp32 full-vocabulary copies a likelihood row holds at the peak (the logits, their log-softmax and
# temporaries): 2.8 measured from peak RSS at batch 16 vs 4 (benchmarks/README.md, "Evaluation within
# a memory budget"), rounded up
LOGIT_COPIES = 3.0


def likelihood_batch(batch_size: int, longest: int, vocab: int, room_mb: float) -> int:
    """The largest batch <= `batch_size` whose logits (`longest` tokens a row) fit in `room_mb`; at least 1."""
    per_row_mb = longest * vocab * 4 * LOGIT_COPIES / 2**20
    return max(1, min(int(batch_size), int(room_mb // per_row_mb)))


# generation rows at once on CPU, where their KV cache fits (see the module's docstring)
GEN_BATCH = 32


def generation_batch(batch_size: int, n_requests: int, kv_mb_per_row: float, room_mb: float) -> int:
    """Rows to generate at once: up to GEN_BATCH (never more rows than requests) where every row's KV
    cache fits in `room_mb`; never below the configured `batch_size`, the runner's tried default."""
    wanted = min(GEN_BATCH, n_requests)
    if wanted <= batch_size or kv_mb_per_row <= 0:
        return int(batch_size)
    return max(int(batch_size), int(min(wanted, room_mb // kv_mb_per_row)))  # room_mb may be math.inf


def kv_mb_per_row(config, tokens: int) -> float:
    """MiB of fp32 KV cache one row of `tokens` tokens holds, plus its prefill's widest activation (the
    MLP's intermediate), for a decoder config (hidden_size, heads, layers)."""
    layers = int(getattr(config, "num_hidden_layers", 0) or 0)
    heads = int(getattr(config, "num_attention_heads", 1) or 1)
    kv_heads = int(getattr(config, "num_key_value_heads", None) or heads)
    hidden = int(getattr(config, "hidden_size", 0) or 0)
    head_dim = int(getattr(config, "head_dim", None) or (hidden // heads if heads else 0))
    inter = int(getattr(config, "intermediate_size", 0) or 4 * hidden)
    return (layers * 2 * kv_heads * head_dim + 2 * inter) * tokens * 4 / 2**20
