"""Quality filters: one small class per check, each with documented default thresholds.

Every filter returns a `Verdict(reason, detail)` for a record it drops; the reason names the
rule (e.g. `dup_line_frac`) and the detail carries the measured value against the threshold,
so the removals table explains itself. Thresholds follow the usual starting points:
Gopher (Rae et al. 2021) as implemented in datatrove's GopherRepetitionFilter and
GopherQualityFilter, adapted to chat turns where noted. Those numbers were made for web
documents of hundreds of words; examples/recipes/default.yaml fits them to chat rows, each
change measured on datasets/curation_eval.jsonl (`python benchmarks/curation.py --stats`).

Adding a filter: subclass `Filter`, give it a `name`, a `Params` model (pydantic, with
defaults and bounds) and `check(record) -> Verdict | None`, and decorate it with `@register`.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Optional

from pydantic import Field

from workbench import reasoning
from workbench.curate.steps import Filter, Params, Verdict, register
from workbench.curate.text import words
from workbench.data.records import Record

PosInt = Optional[int]


def _frac(x: float) -> str:
    return f"{x:.3f}"


# ----------------------------------------------------------------------------------------
# Structure and length
# ----------------------------------------------------------------------------------------


class StructureParams(Params):
    max_turns: int = Field(32, gt=0, description="most user+assistant turns in one conversation")
    require_final_assistant: bool = Field(True, description="the last turn must be the assistant's")


@register
class StructureFilter(Filter):
    """Empty or whitespace-only turns, no assistant turn, not ending on the assistant, too many turns."""

    name = "structure"
    Params = StructureParams

    def check(self, record: Record) -> Verdict | None:
        for i, m in enumerate(record.messages):
            if m["role"] != "system" and not m["content"].strip():
                return Verdict("empty_turn", f"message {i} ({m['role']}) is empty or whitespace")
        if record.rejected is not None and not record.rejected.strip():
            return Verdict("empty_turn", "the rejected completion is empty or whitespace")
        prompt_only = record.kind == "prompt"  # a question without its answer, by design
        if not prompt_only and not record.turns("assistant"):
            return Verdict("no_assistant_turn", "conversation has no assistant turn")
        if not prompt_only and self.params.require_final_assistant and record.messages[-1]["role"] != "assistant":
            return Verdict("no_final_assistant_turn", f"last turn is {record.messages[-1]['role']}")
        if record.n_turns > self.params.max_turns:
            return Verdict("too_many_turns", f"{record.n_turns} > {self.params.max_turns}")
        return None


class LengthParams(Params):
    # per turn (user and assistant turns; system prompts are not checked)
    min_turn_chars: PosInt = Field(None, gt=0)
    max_turn_chars: PosInt = Field(20_000, gt=0)
    min_turn_words: PosInt = Field(None, gt=0)
    max_turn_words: PosInt = Field(None, gt=0)
    # whole conversation
    min_chars: PosInt = Field(10, gt=0)
    max_chars: PosInt = Field(60_000, gt=0)
    min_words: PosInt = Field(3, gt=0)
    max_words: PosInt = Field(None, gt=0)


@register
class LengthFilter(Filter):
    """Length bounds in characters and words, per turn and per conversation (None = no bound)."""

    name = "length"
    Params = LengthParams

    def check(self, record: Record) -> Verdict | None:
        p = self.params
        for i, m in enumerate(record.messages):
            if m["role"] == "system":
                continue
            n_chars, n_words = len(m["content"]), len(words(m["content"]))
            for value, lo, hi, unit in ((n_chars, p.min_turn_chars, p.max_turn_chars, "chars"),
                                        (n_words, p.min_turn_words, p.max_turn_words, "words")):
                if lo is not None and value < lo:
                    return Verdict(f"turn_too_short_{unit}", f"message {i}: {value} < {lo}")
                if hi is not None and value > hi:
                    return Verdict(f"turn_too_long_{unit}", f"message {i}: {value} > {hi}")
        text = record.text()
        n_chars, n_words = len(text), len(words(text))
        for value, lo, hi, unit in ((n_chars, p.min_chars, p.max_chars, "chars"), (n_words, p.min_words, p.max_words, "words")):
            if lo is not None and value < lo:
                return Verdict(f"conversation_too_short_{unit}", f"{value} < {lo}")
            if hi is not None and value > hi:
                return Verdict(f"conversation_too_long_{unit}", f"{value} > {hi}")
        return None


# ----------------------------------------------------------------------------------------
# Gopher repetition (assistant text)
# ----------------------------------------------------------------------------------------


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


_FENCE = re.compile(r"^```.*?^```[^\n]*$", re.MULTILINE | re.DOTALL)
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
    prose = _FENCE.sub(" ", text) if skip_code else text
    ws = words(prose)
    out["words"] = len(ws)
    n_chars = max(1, len(prose))
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


# ----------------------------------------------------------------------------------------
# Gopher quality (assistant text)
# ----------------------------------------------------------------------------------------

STOP_WORDS = frozenset(["the", "be", "to", "of", "and", "that", "have", "with"])
_PUNCT_ONLY = re.compile(r"^[^\w]+$", re.UNICODE)
_SYMBOL_WORD = re.compile(r"^(#+|\.\.\.|…)$")
_ANSWER_MARKER = re.compile(r"^#### .*$", re.MULTILINE)  # GSM8K final-answer line: format, not noise
_BAD_CHARS = re.compile("[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class QualityParams(Params):
    min_avg_word_length: float = Field(3.0, gt=0)
    max_avg_word_length: float = Field(10.0, gt=0)
    max_symbol_word_ratio: float = Field(0.10, ge=0, description="'#' runs and ellipses per word")
    min_alpha_words_frac: float = Field(0.80, ge=0, le=1, description="share of words with a letter")
    min_stop_words: int = Field(2, ge=0, description="the, be, to, of, and, that, have, with")
    max_bad_char_frac: float = Field(0.0, ge=0, le=1, description="replacement or control characters")
    min_words: int = Field(5, ge=0, description="skip the word statistics on shorter texts")


@register
class QualityFilter(Filter):
    """Gopher quality on the assistant text: word length, symbols, letters, stop words, bad characters.

    Symbols are counted as words made only of '#' or an ellipsis. The statistics skip the
    `<think>` tags and a GSM8K final-answer line (`#### 42`): they are format, not text.
    """

    name = "gopher_quality"
    Params = QualityParams

    def check(self, record: Record) -> Verdict | None:
        p = self.params
        text = record.assistant_text()
        if not text:
            return None
        bad = len(_BAD_CHARS.findall(record.text()))
        if bad / max(1, len(record.text())) > p.max_bad_char_frac:
            return Verdict("bad_characters", f"{bad} replacement/control characters")
        ws = words(_ANSWER_MARKER.sub(" ", re.sub(r"</?think>", " ", text)))
        if len(ws) < p.min_words:
            return None
        symbols = sum(1 for w in ws if _SYMBOL_WORD.match(w))
        if symbols / len(ws) > p.max_symbol_word_ratio:
            return Verdict("symbol_word_ratio", f"{_frac(symbols / len(ws))} > {p.max_symbol_word_ratio}")
        real = [w for w in ws if not _PUNCT_ONLY.match(w)]
        if not real:
            return Verdict("alpha_words_frac", "no words")
        avg = sum(len(w) for w in real) / len(real)
        if avg < p.min_avg_word_length:
            return Verdict("avg_word_length", f"{avg:.2f} < {p.min_avg_word_length}")
        if avg > p.max_avg_word_length:
            return Verdict("avg_word_length", f"{avg:.2f} > {p.max_avg_word_length}")
        alpha = sum(1 for w in ws if any(c.isalpha() for c in w)) / len(ws)
        if alpha < p.min_alpha_words_frac:
            return Verdict("alpha_words_frac", f"{_frac(alpha)} < {p.min_alpha_words_frac}")
        stops = sum(1 for w in ws if w.lower().strip(".,;:!?") in STOP_WORDS)
        if stops < p.min_stop_words:
            return Verdict("stop_words", f"{stops} < {p.min_stop_words}")
        return None


# ----------------------------------------------------------------------------------------
# Reasoning format (SmolLM3 conventions)
# ----------------------------------------------------------------------------------------

THINK_OPEN, THINK_CLOSE = reasoning.THINK_OPEN, reasoning.THINK_CLOSE


class ReasoningParams(Params):
    require_empty_block: bool = Field(
        False, description="no_think answers must carry the empty <think>\\n\\n</think> block"
    )
    check_unlabelled: bool = Field(True, description="records without a mode: unclosed/stray tags are errors")


@register
class ReasoningFormatFilter(Filter):
    """Think-mode answers need one closed, non-empty `<think>` block first, then an answer;
    no_think answers may carry only an empty block (SmolLM3: `<think>\\n\\n</think>\\n`)."""

    name = "reasoning_format"
    Params = ReasoningParams

    _split = staticmethod(reasoning.split_turn)  # (problem, trace, answer) of one assistant turn

    def check(self, record: Record) -> Verdict | None:
        turns = record.turns("assistant")
        mode = record.reasoning_mode
        for i, m in enumerate(turns):
            problem, trace, answer = self._split(m["content"])
            last = i == len(turns) - 1
            where = f"assistant turn {i}"
            if problem and (mode is not None or self.params.check_unlabelled):
                return Verdict(problem, where)
            if mode == "think" and last:
                if trace is None:
                    return Verdict("think_block_missing", f"{where}: think-mode answer without <think>")
                if not trace.strip():
                    return Verdict("think_block_empty", f"{where}: empty reasoning trace")
                if not answer.strip():
                    return Verdict("answer_missing_after_think", where)
            if mode == "no_think":
                if trace is not None and trace.strip():
                    return Verdict("trace_in_no_think", f"{where}: {len(trace.strip())}-char trace")
                if self.params.require_empty_block and trace is None:
                    return Verdict("no_think_block_missing", where)
        return None


# ----------------------------------------------------------------------------------------
# Language (optional; langdetect)
# ----------------------------------------------------------------------------------------


class LanguageParams(Params):
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1)
    min_prob: float = Field(0.80, gt=0, le=1, description="langdetect probability of an allowed language")
    min_chars: int = Field(40, ge=0, description="shorter texts are not judged (too unreliable)")


@register
class LanguageFilter(Filter):
    """Drops records whose user+assistant text is not in an allowed language (langdetect, seeded)."""

    name = "language"
    Params = LanguageParams

    def check(self, record: Record) -> Verdict | None:
        from langdetect import DetectorFactory, detect_langs
        from langdetect.lang_detect_exception import LangDetectException

        DetectorFactory.seed = 0  # langdetect is random otherwise: same input, same verdict
        text = "\n".join(m["content"] for m in record.messages if m["role"] != "system")
        text = re.sub(r"</?think>", " ", text)
        if len(text.strip()) < self.params.min_chars:
            return None
        try:
            langs = detect_langs(text)
        except LangDetectException:
            return Verdict("language_unknown", "no language features")
        best = max(((lang.prob, lang.lang) for lang in langs), default=(0.0, "?"))
        allowed = sum(lang.prob for lang in langs if lang.lang in self.params.languages)
        if allowed < self.params.min_prob:
            return Verdict("language", f"{best[1]} ({best[0]:.2f}); allowed {','.join(self.params.languages)}")
        return None
