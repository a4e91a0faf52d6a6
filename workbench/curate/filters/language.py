"""Language (optional; langdetect through `text.detect_languages`)."""

from __future__ import annotations

import re

from pydantic import Field

from workbench.curate.steps import Filter, Params, Verdict, register
from workbench.curate.text import detect_languages
from workbench.data.records import Record


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
        text = "\n".join(m["content"] for m in record.messages if m["role"] != "system")
        if len(re.sub(r"</?think>", " ", text).strip()) < self.params.min_chars:
            return None
        langs = detect_languages(text)
        if not langs:
            return Verdict("language_unknown", "no language features")
        best = max(((prob, lang) for lang, prob in langs), default=(0.0, "?"))
        allowed = sum(prob for lang, prob in langs if lang in self.params.languages)
        if allowed < self.params.min_prob:
            return Verdict("language", f"{best[1]} ({best[0]:.2f}); allowed {','.join(self.params.languages)}")
        return None
