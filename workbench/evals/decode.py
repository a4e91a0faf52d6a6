"""Greedy decoding for the eval runner that drops finished rows from the batch.

lm-eval's HF backend calls `model.generate` per batch with one stopping criterion per stop
string, each of which says "done" only when *every* row has produced that same string; a
row finished by EOS keeps being computed (padded) and a row that hit a stop string keeps
generating until the whole batch ends. One long answer makes the other 15 rows of a batch
pay for its length. Here each row leaves the batch (and its KV cache) at the step where it
produces an EOS token or one of the stop strings, so later steps run on fewer rows.

The output is what lm-eval's own path returns for greedy decoding: the context, then each
row's tokens up to and including the one that ended it, then pad tokens. lm-eval decodes
that and cuts it at the first stop string, so the text is the same (the same forward
passes and argmax; tests/test_merged_eval.py compares both paths item by item). Sampling
(do_sample) and models without a KV cache go to lm-eval's path unchanged.

The same class sizes its likelihood batches to the memory budget (workbench.core.memory). A
loglikelihood batch holds the full-vocabulary logits of every row and their log-softmax, fp32:
at batch 16 and 400-token worked solutions that is ~2.5 GiB on a 49k vocabulary, more than the
135M model itself. On CPU, before each set of requests, the batch drops (never rises) to what fits
HEADROOM of the budget beside what the process already holds. Smaller batches change no score:
each row is scored on its own, padded to the right.

Generation on CPU runs up to GEN_BATCH rows at once where their KV cache fits the same room (the
runner's batch of 16 otherwise). A decoding step is bound by reading the weights, not by the rows
(workbench.evals.batching). Greedy outputs do not change with the batch
(tests/test_eval_budget.py).
"""

from __future__ import annotations

import inspect
import sys
from contextlib import contextmanager

from lm_eval.models.huggingface import HFLM

from workbench.evals.batching import generation_batch, kv_mb_per_row, likelihood_batch


def _eos_ids(model, tokenizer) -> set[int]:
    ids = getattr(model.generation_config, "eos_token_id", None)
    ids = ids if isinstance(ids, (list, tuple)) else [ids]
    return {int(i) for i in [*ids, tokenizer.eos_token_id] if i is not None}


def greedy_decode(model, tokenizer, input_ids, attention_mask, max_new_tokens: int, stop: list[str],
                  pad_token_id: int):
    """(batch, context + new) token ids: greedy, each row stopped at EOS or at its first stop string."""
    import torch
    from transformers import DynamicCache

    n, ctx = input_ids.shape
    out = torch.full((n, max(max_new_tokens, 0)), pad_token_id, dtype=input_ids.dtype, device=input_ids.device)
    if max_new_tokens <= 0:
        return torch.cat([input_ids, out], dim=1)
    eos = torch.tensor(sorted(_eos_ids(model, tokenizer)), device=input_ids.device)
    stops = [s for s in stop if s]
    tail = max((len(s) for s in stops), default=0) + 2  # tokens to decode: a stop string spans at most len+1 tokens
    rows = torch.arange(n, device=input_ids.device)  # original row of each row still in the batch
    mask = attention_mask.clone()
    cache = DynamicCache(config=model.config)
    positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
    step_ids = input_ids
    # transformers renamed past_key_values to cache (5.x); pass whichever this model's forward takes
    cache_arg = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    with torch.inference_mode():
        for t in range(max_new_tokens):
            logits = model(input_ids=step_ids, attention_mask=mask, position_ids=positions, use_cache=True,
                           logits_to_keep=1, **{cache_arg: cache}).logits[:, -1, :]
            nxt = logits.argmax(-1)
            out[rows, t] = nxt
            done = torch.isin(nxt, eos)
            if stops:
                texts = tokenizer.batch_decode(out[rows, max(0, t + 1 - tail): t + 1])
                done |= torch.tensor([any(s in x for s in stops) for x in texts], device=done.device)
            if t == max_new_tokens - 1 or bool(done.all()):
                break
            if bool(done.any()):
                keep = (~done).nonzero().squeeze(1)
                cache.batch_select_indices(keep)
                rows, nxt, mask = rows[keep], nxt[keep], mask[keep]
                positions = positions[keep]
            mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
            positions = positions[:, -1:] + 1
            step_ids = nxt[:, None]
    return torch.cat([input_ids, out], dim=1)


class EarlyStopHFLM(HFLM):
    """lm-eval's HF model whose greedy generation drops finished rows (greedy_decode), and whose
    likelihood batches fit the memory budget on CPU."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.budget_notes: list[str] = []  # what the memory budget changed, each said once

    def _budgeted(self, requests) -> bool:
        """Whether the memory budget sizes these requests' batches: on CPU, with a fixed batch size."""
        return bool(requests) and self.batch_size != "auto" and getattr(self.device, "type", str(self.device)) == "cpu"

    @contextmanager
    def _batch_of(self, rows: int):
        """lm-eval's batch size set to `rows` for one set of requests, then restored."""
        own = self.batch_size_per_gpu
        self.batch_size_per_gpu = rows
        try:
            yield
        finally:
            self.batch_size_per_gpu = own

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, override_bs=None):
        if not self._budgeted(requests):
            return super()._loglikelihood_tokens(requests, disable_tqdm, override_bs)
        from workbench.core.memory import HEADROOM, budget_mb, rss_mb

        own = self.batch_size_per_gpu
        longest = min(max(len(ctx) + len(cont) for _, ctx, cont in requests), self.max_length + 1)
        budget = budget_mb()
        vocab = int(self.model.get_output_embeddings().weight.shape[0])
        fitted = likelihood_batch(own, longest, vocab, HEADROOM * budget - rss_mb())
        if fitted < own:
            note = (f"likelihood batch {own} -> {fitted}: {longest}-token rows within {HEADROOM:.0%} of the "
                    f"{budget:,.0f} MiB memory budget")
            if note not in self.budget_notes:
                self.budget_notes.append(note)
                print(note, file=sys.stderr, flush=True)
        with self._batch_of(fitted):
            return super()._loglikelihood_tokens(requests, disable_tqdm, override_bs)

    def generate_until(self, requests, disable_tqdm: bool = False):
        if not self._budgeted(requests):
            return super().generate_until(requests, disable_tqdm)
        from workbench.core.memory import HEADROOM, budget_mb, rss_mb

        longest = max(len(self.tok_encode(r.args[0])) for r in requests)
        new = max(int((r.args[1] or {}).get("max_gen_toks") or self.max_gen_toks) for r in requests)
        per_row = kv_mb_per_row(self.model.config, min(longest + new, self.max_length))
        rows = generation_batch(self.batch_size_per_gpu, len(requests), per_row, HEADROOM * budget_mb() - rss_mb())
        with self._batch_of(rows):
            return super().generate_until(requests, disable_tqdm)

    def _model_generate(self, context, max_length: int, stop: list[str], **generation_kwargs):
        greedy = not generation_kwargs.get("do_sample") and not generation_kwargs.get("temperature")
        extra = set(generation_kwargs) - {"attention_mask", "do_sample", "temperature", "until"}
        if not greedy or extra or self.backend != "causal" or self.mixed_precision_dtype is not None:
            return super()._model_generate(context, max_length, stop, **generation_kwargs)
        mask = generation_kwargs.get("attention_mask")
        if mask is None:
            import torch

            mask = torch.ones_like(context)
        return greedy_decode(self.model, self.tokenizer, context, mask, max_length - context.shape[1], stop,
                             self.tokenizer.pad_token_id)
