"""Gopher quality on the assistant text, measured on its prose.

Gopher's rules (Rae et al. 2021; datatrove's GopherQualityFilter) were made for English web
pages of 50+ words. On chat data the raw statistics reject clean rows: "12 * 150 = 1800" is
three of five tokens without a letter, a fenced code block is full of `):` and `[]`, and a
Chinese answer has no spaces, so it is one 200-character "word". Here each statistic is
measured on what it is about:

- fenced code blocks, `<think>` tags and a GSM8K `#### 42` answer line are left out;
- words are `text.word_tokens`: each character of a script written without spaces (Chinese,
  Japanese, Thai) is a token;
- `alpha_words_frac` is the share of tokens with a letter (any script: accents, Cyrillic, CJK
  are letters) among the tokens that are not numbers, punctuation, operators or currency
  (`1800`, `*`, `=`, `$12.50`, `->`, `|`, `—` say nothing about garbage): what is left against
  the letters is symbol soup (box drawing, dingbats, emoji runs);
- `avg_word_length` is over the letter runs of space-separated scripts (`has_close_elements(x)`
  is the words has, close, elements, x), and is not judged on fewer than `min_words` of them;
- every word statistic applies only from `min_words` tokens (default 50, Gopher's document
  floor); the bad-character rule applies to any length;
- the stop-word rule counts English stop words, so it judges English prose only: a row short of
  them is dropped only when langdetect (`text.detect_languages`, asked only then) finds its prose
  English (`stop_words_languages`); German, Chinese or Russian answers have none and are kept.

Default thresholds are Gopher's except `min_words`; what the default recipe changes, and the
distributions behind it, are in examples/recipes/default.yaml (`python benchmarks/curation.py
--quality-stats` prints the clean and planted distributions per domain).
"""

from __future__ import annotations

import re
import unicodedata

from pydantic import Field

from workbench.curate.steps import Filter, Params, Rule, Verdict, register
from workbench.curate.text import detect_languages, is_no_space_char, strip_fenced_code, word_tokens
from workbench.data.records import Record

STOP_WORDS = frozenset(["the", "be", "to", "of", "and", "that", "have", "with"])
_SYMBOL_WORD = re.compile(r"^(#+|\.\.\.|…)$")
_ANSWER_MARKER = re.compile(r"^#### .*$", re.MULTILINE)  # GSM8K final-answer line: format, not noise
BAD_CHARS = re.compile("[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NEUTRAL_CATEGORIES = ("N", "P", "Sm", "Sc", "Sk", "M")  # numbers, punctuation, math, currency, modifiers, marks


def _letter_runs(token: str) -> list[str]:
    """The words inside a token: runs of letters and the combining marks that belong to them
    (Bengali, Telugu, Devanagari vowel signs), joined across an apostrophe (`don't`)."""
    runs, cur = [], []
    for i, c in enumerate(token):
        if c.isalpha() or (cur and unicodedata.category(c).startswith("M")) or (
                cur and c in "'’" and i + 1 < len(token) and token[i + 1].isalpha()):
            cur.append(c)
        elif cur:
            runs.append("".join(cur))
            cur = []
    if cur:
        runs.append("".join(cur))
    return runs


def _has_letter(token: str) -> bool:
    return any(c.isalpha() for c in token)


def _neutral(token: str) -> bool:
    """A number, operator or punctuation token: no letter, and nothing but digits, punctuation,
    math, currency and modifier symbols (`1800`, `=`, `$4.50`, `(3/4)`, `->`, `|`, `—`)."""
    return all(unicodedata.category(c).startswith(_NEUTRAL_CATEGORIES) for c in token)


def prose_of(text: str) -> str:
    """The assistant text the quality statistics are measured on: no fenced code, no think tags,
    no GSM8K answer line."""
    return _ANSWER_MARKER.sub(" ", re.sub(r"</?think>", " ", strip_fenced_code(text)))


def quality_stats(text: str) -> dict[str, float]:
    """Every statistic of `QualityFilter` on one text (its prose), by rule name; `words` is the
    number of tokens, `letter_words` the letter runs that `avg_word_length` is measured on."""
    ws = word_tokens(prose_of(text))
    runs = [r for w in ws if not is_no_space_char(w) for r in _letter_runs(w)]
    judged = [w for w in ws if not _neutral(w)]
    alpha = sum(1 for w in judged if _has_letter(w))
    return {
        "words": len(ws),
        "letter_words": len(runs),
        "symbol_word_ratio": sum(1 for w in ws if _SYMBOL_WORD.match(w)) / max(1, len(ws)),
        "avg_word_length": sum(len(r) for r in runs) / len(runs) if runs else 0.0,
        "alpha_words_frac": alpha / len(judged) if judged else 1.0,
        "stop_words": sum(1 for r in runs if r.lower() in STOP_WORDS),
    }


class QualityParams(Params):
    min_avg_word_length: float = Field(3.0, gt=0, description="Gopher: 3")
    max_avg_word_length: float = Field(10.0, gt=0, description="Gopher: 10")
    max_symbol_word_ratio: float = Field(0.10, ge=0, description="'#' runs and ellipses per word (Gopher: 0.1)")
    min_alpha_words_frac: float = Field(
        0.80, ge=0, le=1, description="share of tokens with a letter, numbers/operators/punctuation left out (Gopher: 0.8)")
    min_stop_words: int = Field(2, ge=0, description="the, be, to, of, and, that, have, with (Gopher: 2)")
    stop_words_languages: list[str] = Field(
        default_factory=lambda: ["en"], description="the stop-word rule judges prose langdetect finds in one of "
                                                    "these (the stop words are English)")
    max_bad_char_frac: float = Field(0.0, ge=0, le=1, description="replacement or control characters")
    min_words: int = Field(50, ge=0, description="skip the word statistics on shorter prose (Gopher's documents: 50+ words)")


@register
class QualityFilter(Filter):
    """Gopher quality on the assistant prose: word length, symbols, letters, stop words, bad characters."""

    name = "gopher_quality"
    Params = QualityParams

    def check(self, record: Record) -> Verdict | None:
        p = self.params
        text = record.assistant_text()
        if not text:
            return None
        full = record.text()
        bad = len(BAD_CHARS.findall(full))
        if bad / max(1, len(full)) > p.max_bad_char_frac:
            return Verdict("bad_characters", f"{bad} replacement/control characters")
        s = quality_stats(text)
        if s["words"] < p.min_words:
            return None
        if s["symbol_word_ratio"] > p.max_symbol_word_ratio:
            return Verdict("symbol_word_ratio", f"{s['symbol_word_ratio']:.3f} > {p.max_symbol_word_ratio}")
        if s["alpha_words_frac"] < p.min_alpha_words_frac:
            return Verdict("alpha_words_frac", f"{s['alpha_words_frac']:.3f} < {p.min_alpha_words_frac}")
        if s["letter_words"] >= p.min_words:  # word length and stop words: space-separated prose only
            avg = s["avg_word_length"]
            if avg < p.min_avg_word_length:
                return Verdict("avg_word_length", f"{avg:.2f} < {p.min_avg_word_length}")
            if avg > p.max_avg_word_length:
                return Verdict("avg_word_length", f"{avg:.2f} > {p.max_avg_word_length}")
            if s["stop_words"] < p.min_stop_words and self._judged_language(text):
                return Verdict("stop_words", f"{s['stop_words']} < {p.min_stop_words}")
        return None

    def _judged_language(self, text: str) -> bool:
        """Whether the prose is in a language the stop-word list is for (langdetect's best guess)."""
        langs = detect_languages(prose_of(text))
        return bool(langs) and langs[0][0] in self.params.stop_words_languages

    def rules(self) -> list[Rule]:
        return [Rule("max_bad_char_frac", "max"), Rule("max_symbol_word_ratio", "max"), Rule("min_alpha_words_frac", "min"),
                Rule("min_avg_word_length", "min"), Rule("max_avg_word_length", "max"), Rule("min_stop_words", "min", True)]

    def rule_values(self, record: Record) -> dict[str, float]:
        """What `check` compares, by parameter; stop words only on prose in a judged language."""
        p = self.params
        text = record.assistant_text()
        if not text:
            return {}
        full = record.text()
        out = {"max_bad_char_frac": len(BAD_CHARS.findall(full)) / max(1, len(full))}
        s = quality_stats(text)
        if s["words"] < p.min_words:
            return out
        out |= {"max_symbol_word_ratio": s["symbol_word_ratio"], "min_alpha_words_frac": s["alpha_words_frac"]}
        if s["letter_words"] >= p.min_words:
            out |= {"min_avg_word_length": s["avg_word_length"], "max_avg_word_length": s["avg_word_length"]}
            if self._judged_language(text):
                out["min_stop_words"] = s["stop_words"]
        return out
