"""Dataset statistics: rows, turns, characters and tokens, overall and by source and mode.

Token counts use a named tokenizer (default: the bundled SmolLM2 tokenizer) and are
stored with the tokenizer's name, so numbers from different tokenizers never mix.
"""

from __future__ import annotations

from collections import defaultdict

from workbench.data.records import Record

DEFAULT_TOKENIZER = "smollm2-135m-instruct"


def token_counts(records: list[Record], tokenizer_name: str | None = DEFAULT_TOKENIZER) -> list[int] | None:
    """Tokens per record (all message contents), or None when no tokenizer is available."""
    if tokenizer_name is None:
        return None
    from workbench.core.models import load_token_counter

    tok = load_token_counter(tokenizer_name)
    texts, owners = [], []
    for i, r in enumerate(records):
        for m in r.messages:
            texts.append(m["content"])
            owners.append(i)
    counts = [0] * len(records)
    batch = 8192
    for start in range(0, len(texts), batch):
        chunk = texts[start : start + batch]
        if hasattr(tok, "encode_batch"):  # a Rust tokenizer: no BatchEncodings built
            encode = getattr(tok, "encode_batch_fast", tok.encode_batch)
            lengths = [len(e.ids) for e in encode(chunk, add_special_tokens=False)]
        else:
            lengths = [len(ids) for ids in tok(chunk, add_special_tokens=False)["input_ids"]]
        for owner, n in zip(owners[start : start + batch], lengths):
            counts[owner] += n
    return counts


def profile(records: list[Record], tokenizer_name: str | None = DEFAULT_TOKENIZER) -> dict:
    tokens = token_counts(records, tokenizer_name)
    groups = {"by_source": defaultdict(lambda: [0, 0, 0, 0]), "by_mode": defaultdict(lambda: [0, 0, 0, 0])}
    total = [0, 0, 0, 0]  # rows, turns, chars, tokens
    for i, r in enumerate(records):
        row = (1, r.n_turns, r.n_chars, tokens[i] if tokens else 0)
        for key, bucket in ((r.source or "(none)", "by_source"), (r.reasoning_mode or "none", "by_mode")):
            acc = groups[bucket][key]
            for j, v in enumerate(row):
                acc[j] += v
        for j, v in enumerate(row):
            total[j] += v

    def as_dict(acc):
        rows = max(acc[0], 1)
        out = {"rows": acc[0], "turns": acc[1], "chars": acc[2], "mean_turns": round(acc[1] / rows, 3)}
        if tokens is not None:
            out.update(tokens=acc[3], mean_tokens=round(acc[3] / rows, 1))
        return out

    kind = records[0].kind if records else "sft"
    extra = {"kind": kind}
    if kind == "preference":
        extra["rejected_chars"] = sum(len(r.rejected or "") for r in records)
    return {
        **as_dict(total),
        **extra,
        "tokenizer": tokenizer_name if tokens is not None else None,
        "by_source": {k: as_dict(v) for k, v in sorted(groups["by_source"].items())},
        "by_mode": {k: as_dict(v) for k, v in sorted(groups["by_mode"].items())},
    }
