"""Gopher repetition on each assistant turn: repeated lines, paragraphs and n-grams.

The statistics are Gopher's (Rae et al. 2021, as datatrove's GopherRepetitionFilter computes
them), measured on one assistant turn at a time. Fit for chat data:

- the n-gram rules apply only from `min_words` words, the top n-gram rules only from
  `top_ngram_min_words` (default 50): on short answers their fractions are noise (Gopher's own
  documents had at least 50 words). Measured on datasets/curation_eval.jsonl
  (`python benchmarks/curation.py --stats`): Gopher's top 2/3/4-gram limits removed 58 of 461
  clean turns when applied from 10 words, 2 from 40 words, none from 50;
- fenced code is left out of the n-gram statistics (code repeats tokens by nature; a looping
  code block still shows as repeated lines), and lines made only of symbols are layout;
- words are `text.word_tokens`: each character of a script written without spaces (Chinese,
  Japanese, Thai) is a token, so a loop in Chinese shows as repeated n-grams, and the character
  fractions count a token's characters plus one separator, on Latin text what Gopher counts.

Per-rule defaults and the distributions behind them: `RepetitionParams` and
examples/recipes/default.yaml.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Optional

from pydantic import Field

from workbench.curate.steps import Filter, Params, Rule, Verdict, register
from workbench.curate.text import strip_fenced_code, word_tokens
from workbench.data.records import Record


def _frac(x: float) -> str:
    return f"{x:.3f}"


def _duplicates(items: list[str]) -> tuple[int, int]:
    """(number of repeated elements, characters in them), counting every repeat after the first."""
    seen: set[str] = set()
    n = chars = 0
    for x in items:
        if x in seen:
            n += 1
            chars += len(x)
        else:
            seen.add(x)
    return n, chars


def _top_ngram_chars(ws: list[str], n: int) -> int:
    """Characters covered by the most frequent n-gram, if it occurs more than once."""
    grams = Counter(" ".join(ws[i : i + n]) for i in range(len(ws) - n + 1))
    if not grams:
        return 0
    gram, count = grams.most_common(1)[0]
    return len(gram) * count if count > 1 else 0


def _duplicated_ngram_chars(ws: list[str], n: int) -> int:
    """Characters in n-grams that repeat an earlier one (non-overlapping, as in Gopher/datatrove)."""
    seen: set[str] = set()
    chars, i = 0, 0
    while i < len(ws) - n + 1:
        gram = " ".join(ws[i : i + n])
        if gram in seen:
            chars += len(gram)
            i += n
        else:
            seen.add(gram)
            i += 1
    return chars


_HAS_WORD = re.compile(r"\w")


def repetition_stats(text: str, ngrams: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8, 9, 10), skip_code: bool = True,
                     ignore_symbol_lines: bool = True) -> dict[str, float]:
    """Every Gopher repetition statistic of one text (one assistant turn), by rule name.

    Lines and paragraphs made only of symbols (`}`, `},`, a code fence) are layout, not
    repeats, when `ignore_symbol_lines`; with `skip_code` the n-gram statistics leave out
    fenced code blocks (code repeats tokens by nature; a looping code block still shows as
    repeated lines). `words` is the number of words the n-gram statistics were computed on.
    """
    total = len(text)
    keep = (lambda x: x.strip() and _HAS_WORD.search(x)) if ignore_symbol_lines else (lambda x: x.strip())
    out: dict[str, float] = {}
    for unit, parts in (("para", re.split(r"\n{2,}", text.strip())), ("line", text.splitlines())):
        parts = [x for x in parts if keep(x)]
        n_dup, dup_chars = _duplicates(parts)
        out[f"dup_{unit}_frac"] = n_dup / len(parts) if parts else 0.0
        out[f"dup_{unit}_char_frac"] = dup_chars / total if total else 0.0
    prose = strip_fenced_code(text) if skip_code else text
    ws = word_tokens(prose)
    out["words"] = len(ws)
    # the n-grams' characters are counted joined by one space; on text written with spaces the
    # text's own length is at least that (Gopher's denominator), on CJK text the joined length is
    n_chars = max(1, len(prose), len(ws) + sum(len(w) for w in ws) - 1)
    for n in ngrams:
        out[f"top_{n}_gram_frac"] = _top_ngram_chars(ws, n) / n_chars
        out[f"dup_{n}_gram_char_frac"] = _duplicated_ngram_chars(ws, n) / n_chars
    return out


class RepetitionParams(Params):
    dup_line_frac: float = Field(0.30, gt=0, le=1, description="share of lines that repeat an earlier line")
    dup_para_frac: float = Field(0.30, gt=0, le=1)
    dup_line_char_frac: float = Field(0.20, gt=0, le=1, description="share of characters in repeated lines")
    dup_para_char_frac: float = Field(0.20, gt=0, le=1)
    top_ngram_frac: dict[int, float] = Field(default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16})
    dup_ngram_frac: dict[int, float] = Field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
    )
    min_words: int = Field(10, ge=0, description="skip n-gram checks on a turn (or text) with fewer words")
    top_ngram_min_words: Optional[int] = Field(
        None, ge=0, description="skip the top n-gram checks on turns with fewer words (None: min_words)")
    per_turn: bool = Field(True, description="statistics per assistant turn; False: on all assistant text at once")
    skip_code: bool = Field(True, description="n-gram statistics leave out fenced code blocks")
    ignore_symbol_lines: bool = Field(True, description="lines/paragraphs with no letter or digit are not counted")


@register
class RepetitionFilter(Filter):
    """Gopher repetition on each assistant turn: repeated lines/paragraphs and n-grams.

    Differences from datatrove, for chat data: the statistics are per assistant turn (a
    revised answer that repeats the previous turn's code is not a degenerate loop), the top
    n-gram counts only when it occurs more than once, the n-gram checks skip turns under
    `min_words` words and leave out fenced code, and symbol-only lines (`}`, fences) are
    not counted as repeated lines. `per_turn=False, skip_code=False, ignore_symbol_lines=False`
    gives the whole-text statistics of earlier versions.
    """

    name = "gopher_repetition"
    Params = RepetitionParams

    def check(self, record: Record) -> Verdict | None:
        p = self.params
        if p.per_turn:
            texts = [(f"assistant turn {i}: ", m["content"]) for i, m in enumerate(record.turns("assistant"))]
        else:
            texts = [("", record.assistant_text())]
        ngrams = tuple(sorted(p.top_ngram_frac)) + tuple(sorted(p.dup_ngram_frac))
        line_rules = (("dup_para_frac", p.dup_para_frac), ("dup_para_char_frac", p.dup_para_char_frac),
                      ("dup_line_frac", p.dup_line_frac), ("dup_line_char_frac", p.dup_line_char_frac))
        for where, text in texts:
            # think blocks are checked as part of the text: degenerate traces are the commonest case
            if not text.strip():
                continue  # empty answers are the structure filter's business
            stats = repetition_stats(text, ngrams, p.skip_code, p.ignore_symbol_lines)
            rules = list(line_rules)
            top_min = p.min_words if p.top_ngram_min_words is None else p.top_ngram_min_words
            if stats["words"] >= max(p.min_words, top_min):
                rules += [(f"top_{n}_gram_frac", v) for n, v in sorted(p.top_ngram_frac.items())]
            if stats["words"] >= p.min_words:
                rules += [(f"dup_{n}_gram_char_frac", v) for n, v in sorted(p.dup_ngram_frac.items())]
            for rule, limit in rules:
                if stats[rule] > limit:
                    return Verdict(rule, f"{where}{_frac(stats[rule])} > {limit}")
        return None

    def rules(self) -> list[Rule]:
        p = self.params
        names = ["dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac"]
        names += [f"top_ngram_frac.{n}" for n in sorted(p.top_ngram_frac)]
        return [Rule(k, "max") for k in names + [f"dup_ngram_frac.{n}" for n in sorted(p.dup_ngram_frac)]]

    def rule_values(self, record: Record) -> dict[str, float]:
        """Each rule's largest value over the assistant turns that it judges (what `check` compares)."""
        p = self.params
        texts = [m["content"] for m in record.turns("assistant")] if p.per_turn else [record.assistant_text()]
        ngrams = tuple(sorted(p.top_ngram_frac)) + tuple(sorted(p.dup_ngram_frac))
        top_min = p.min_words if p.top_ngram_min_words is None else p.top_ngram_min_words
        out: dict[str, float] = {}
        for text in texts:
            if not text.strip():
                continue
            s = repetition_stats(text, ngrams, p.skip_code, p.ignore_symbol_lines)
            vals = {k: s[k] for k in ("dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac")}
            if s["words"] >= max(p.min_words, top_min):
                vals |= {f"top_ngram_frac.{n}": s[f"top_{n}_gram_frac"] for n in p.top_ngram_frac}
            if s["words"] >= p.min_words:
                vals |= {f"dup_ngram_frac.{n}": s[f"dup_{n}_gram_char_frac"] for n in p.dup_ngram_frac}
            for k, v in vals.items():
                out[k] = max(out.get(k, 0.0), v)
        return out
