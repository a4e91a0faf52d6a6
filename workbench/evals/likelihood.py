"""Teacher-forced likelihood metrics: bits per byte of a reference, and of a gold choice.

Generation metrics cannot see most data effects at small scale; the likelihood of a
reference answer can. For a suite whose YAML names its reference field
(`metadata: {reference: answer}`), the runner scores every item's reference as the
continuation of the very prompt the model generated from (same chat template, same system
prompt: the context string lm-eval logged), with lm-eval's own `loglikelihood` requests,
batched. For lm-eval's likelihood output types (`multiple_choice`, `loglikelihood`) the
log-likelihoods are already in the sample; the gold continuation's bits per byte is read
from them.

bits per byte = -log p(continuation | context) / ln 2 / UTF-8 bytes of the continuation.
The continuation is the text lm-eval scores: the reference, with any whitespace that ends
the context moved in front of it (lm-eval's `_encode_pair`), so bytes and log-probability
cover the same characters. Lower is better (`scoring.higher_is_better`).
"""

from __future__ import annotations

import math

BPB = "bits_per_byte"
LIKELIHOOD_TYPES = ("multiple_choice", "loglikelihood")


def bits_per_byte(logprob: float, text: str) -> float:
    """-logprob in bits per UTF-8 byte of `text` (the continuation that was scored)."""
    n = len(text.encode("utf-8"))
    return -float(logprob) / math.log(2) / n if n else float("nan")


def _scored_continuation(context: str, continuation: str) -> str:
    # lm-eval moves the context's trailing whitespace into the continuation before scoring
    return context[len(context.rstrip()):] + continuation


def reference_bpb(lm, contexts: list[str], references: list[str]) -> list[float]:
    """bits per byte of each reference as the continuation of its context, in one batched call."""
    from lm_eval.api.instance import Instance

    requests = [Instance(request_type="loglikelihood", doc={}, arguments=(c, r), idx=0,
                         metadata=("workbench_reference", i, 1))
                for i, (c, r) in enumerate(zip(contexts, references))]
    out = lm.loglikelihood(requests, disable_tqdm=True) if requests else []
    return [bits_per_byte(ll, _scored_continuation(c, r)) for (ll, _), c, r in zip(out, contexts, references)]


def _gold_index(target, choices: list[str]) -> int:
    if isinstance(target, (list, tuple)):
        target = target[0]
    if isinstance(target, bool):
        target = int(target)
    if isinstance(target, int):
        return target
    text = str(target).strip()
    if text.isdigit() and text not in [c.strip() for c in choices]:
        return int(text)
    return [c.strip() for c in choices].index(text)


def likelihood_sample(sample: dict, output_type: str) -> tuple[str, dict[str, float]]:
    """(response shown for the item, extra scores) for a multiple_choice / loglikelihood sample.

    multiple_choice: the response is the choice with the highest log-likelihood, and
    bits_per_byte is the gold choice's; loglikelihood: the continuation and its bits per byte.
    """
    args = sample["arguments"]
    lls = [float(r[0][0]) for r in sample["resps"]]
    if output_type == "loglikelihood":
        ctx, cont = args[0]
        return cont, {BPB: bits_per_byte(lls[0], _scored_continuation(ctx, cont))}
    choices = [a[1] for a in args]
    gold = _gold_index(sample.get("target"), choices)
    best = max(range(len(lls)), key=lls.__getitem__)
    ctx = args[gold][0]
    return choices[best].strip(), {BPB: bits_per_byte(lls[gold], _scored_continuation(ctx, choices[gold]))}
