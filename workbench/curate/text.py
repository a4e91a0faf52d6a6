"""Text helpers shared by the curation steps: normalization, words, n-grams, stable hashes."""

from __future__ import annotations

import re
import unicodedata

import xxhash

_PUNCT = re.compile(r"[^\w\s]|_", re.UNICODE)
_DIGIT = re.compile(r"\d")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\S+")


def normalize(text: str) -> str:
    """Lowercase, digits to 0, punctuation removed, whitespace collapsed (dedup/decontam key)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _DIGIT.sub("0", text)
    text = _PUNCT.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def normalize_exact(text: str) -> str:
    """Like `normalize` but digits kept: "3 apples" and "5 apples" are different records."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _SPACE.sub(" ", _PUNCT.sub(" ", text)).strip()


def normalize_words(text: str) -> list[str]:
    """Words of the normalized text; decontamination keeps digits (answers differ by number)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _PUNCT.sub(" ", text)
    return text.split()


def words(text: str) -> list[str]:
    """Whitespace-separated words (the dedup steps' unit; see `word_tokens` for prose statistics)."""
    return _WORD.findall(text)


# Scripts written without spaces between words: Han (Chinese, kanji), Hiragana, Katakana, Thai,
# Lao, Khmer, Myanmar (and CJK punctuation). A whitespace split sees a whole Chinese sentence as
# one "word"; here each character of these scripts is a token of its own (Korean Hangul puts
# spaces between words).
NO_SPACE_SCRIPT = (r"\u3001-\u303f\uff01-\uff65\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf"
                   r"\u4e00-\u9fff\uf900-\ufaff")
_NO_SPACE_CHAR = re.compile(f"[{NO_SPACE_SCRIPT}]")
_TOKEN = re.compile(f"[{NO_SPACE_SCRIPT}]|[^\\s{NO_SPACE_SCRIPT}]+")
_FENCED = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[^\n]*$", re.MULTILINE | re.DOTALL)


def word_tokens(text: str) -> list[str]:
    """Words for counts and prose statistics in any script: whitespace-separated runs, with each
    character of a script written without spaces (Chinese, Japanese, Thai...) a token of its own.
    On text without such characters, the same list as `words`."""
    if not _NO_SPACE_CHAR.search(text):
        return _WORD.findall(text)
    return _TOKEN.findall(text)


def count_words(text: str) -> int:
    return len(word_tokens(text))


def is_no_space_char(token: str) -> bool:
    return len(token) == 1 and _NO_SPACE_CHAR.match(token) is not None


def strip_fenced_code(text: str, repl: str = " ") -> str:
    """The text with its fenced code blocks (``` or ~~~, closed) replaced by `repl`."""
    return _FENCED.sub(repl, text)


_THINK_TAG = re.compile(r"</?think>")


def detect_languages(text: str) -> list[tuple[str, float]]:
    """The languages langdetect finds in a text, `(code, probability)` best first, `<think>` tags
    left out; [] when it finds no language features. Seeded: the same text, the same answer
    (langdetect is random otherwise). The one home of language detection in curation (the
    `language` step, `gopher_quality`'s English-only stop-word rule)."""
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    try:
        found = detect_langs(_THINK_TAG.sub(" ", text))
    except LangDetectException:
        return []
    return sorted(((x.lang, x.prob) for x in found), key=lambda lp: -lp[1])


def stable_hash64(text: str) -> int:
    """A 64-bit hash that is the same in every process (Python's hash() is salted)."""
    return xxhash.xxh3_64_intdigest(text.encode("utf-8"))


def short(text: str, limit: int = 120) -> str:
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
