"""Token counts: a bundled model's tokenizer.json read by `tokenizers` counts what AutoTokenizer counts."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.core.models import DEFAULT_MODEL, load_token_counter, load_tokenizer
from workbench.data.profile import token_counts
from workbench.data.records import Record

REPO = Path(__file__).resolve().parents[1]


def _texts() -> list[str]:
    texts = []
    for name in ("example_raw.jsonl", "curation_domains.jsonl", "example_prompts.jsonl"):
        for line in (REPO / "datasets" / name).read_text(encoding="utf-8").splitlines():
            texts += [m["content"] for m in json.loads(line).get("messages", [])]
    # special and added tokens as text, accents, CJK, emoji, whitespace runs
    return texts + ["<|im_start|>user\nhi<|im_end|>", "<think>x</think> /no_think", "é 中文 😀", "<|endoftext|>",
                    "  \t\n  ", ""]


def test_the_bundled_tokenizer_file_counts_what_autotokenizer_counts():
    fast = load_token_counter(DEFAULT_MODEL)
    assert type(fast).__module__.startswith("tokenizers")  # read from the file, not through transformers
    backend = load_tokenizer(DEFAULT_MODEL).backend_tokenizer
    texts = _texts()
    assert len(texts) > 1000
    ours = [len(e.ids) for e in fast.encode_batch(texts, add_special_tokens=False)]
    theirs = [len(e.ids) for e in backend.encode_batch(texts, add_special_tokens=False)]
    assert ours == theirs
    assert fast.get_added_tokens_decoder() == backend.get_added_tokens_decoder()


def test_a_model_directory_counts_through_autotokenizer(tiny_model_dir):
    counter = load_token_counter(str(tiny_model_dir))
    records = [Record(id="r1", messages=[{"role": "user", "content": "How many apples?"},
                                         {"role": "assistant", "content": "Three apples."}])]
    assert token_counts(records, str(tiny_model_dir)) == token_counts(records, DEFAULT_MODEL)
    assert counter is load_tokenizer(str(tiny_model_dir)).backend_tokenizer
