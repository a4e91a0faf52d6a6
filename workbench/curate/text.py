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
    return _WORD.findall(text)


def stable_hash64(text: str) -> int:
    """A 64-bit hash that is the same in every process (Python's hash() is salted)."""
    return xxhash.xxh3_64_intdigest(text.encode("utf-8"))


def short(text: str, limit: int = 120) -> str:
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
