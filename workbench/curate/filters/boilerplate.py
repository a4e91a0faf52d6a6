"""Boilerplate in assistant answers: canned AI disclaimers, web page chrome, placeholder text,
and chat-template tokens that leaked into the text.

Each pattern is matched on the assistant prose (fenced code left out: a license header or a
template string inside code is content). The reasons:

- `ai_disclaimer`: "As an AI language model, ..." and its usual translations (zh, ja, ru, de,
  fr, es, pt, it); the classic marker of answers copied from a teacher model's refusals and
  hedges (dropped by most chat-data cleaning since Vicuna/WizardLM);
- `web_boilerplate`: at least `min_web_markers` different page-chrome phrases (cookie or privacy
  policy, terms of use, all rights reserved, subscribe to our newsletter, share this, click here
  to, enable JavaScript): one alone can be a real answer about privacy policies, several
  together are a scraped page footer;
- `placeholder`: lorem ipsum, or an unfilled template (`{{response}}`, `[INSERT ANSWER HERE]`);
- `leaked_template_token`: `<|im_start|>`, `<|im_end|>`, `<|endoftext|>`, `<|eot_id|>`,
  `[INST]`, `<start_of_turn>`: a chat template rendered into the data.
"""

from __future__ import annotations

import re

from pydantic import Field

from workbench.curate.steps import Filter, Params, Verdict, register
from workbench.curate.text import short, strip_fenced_code
from workbench.data.records import Record

DISCLAIMERS = [
    r"\bas an ai (?:language )?model\b", r"\bas a large language model\b", r"\bi(?: am|'m) (?:just )?an ai(?: language model)?\b",
    r"作为一个?(?:AI|人工智能)(?:语言)?模型", r"作为一个?大型?语言模型", r"AI(?:言語)?モデルとして", r"言語モデルとして",
    r"\bкак (?:языковая )?модель ии\b", r"\bкак ии-модель\b", r"\bкак языковая модель\b",
    r"\bals (?:ein )?ki-sprachmodell\b", r"\bals (?:eine )?künstliche intelligenz\b",
    r"\ben tant que (?:modèle de langage|ia|intelligence artificielle)\b",
    r"\bcomo (?:un )?modelo de (?:lenguaje|linguagem)(?: de ia)?\b", r"\bin quanto modello (?:di linguaggio|linguistico)\b",
]
WEB_MARKERS = [
    r"\bcookie (?:policy|settings|preferences)\b", r"\bprivacy policy\b", r"\bterms (?:of (?:use|service)|and conditions)\b",
    r"\ball rights reserved\b", r"\bsubscribe to (?:our|the) newsletter\b", r"\bshare this(?: article| post| page)?\s*:",
    r"\bclick here to\b", r"\benable javascript\b|\bjavascript is disabled\b", r"\bsign up for (?:our|free)\b",
    r"\bskip to (?:main )?content\b",
]
PLACEHOLDERS = [r"\blorem ipsum\b", r"\{\{\s*(?:response|answer|output|completion|assistant)\s*\}\}",
                r"\[(?:insert|your) (?:answer|response|text) here\]"]
TEMPLATE_TOKENS = [r"<\|im_start\|>", r"<\|im_end\|>", r"<\|endoftext\|>", r"<\|eot_id\|>", r"<\|start_header_id\|>",
                   r"\[INST\]", r"\[/INST\]", r"<start_of_turn>", r"<end_of_turn>"]


def _compile(patterns: list[str]) -> list[re.Pattern]:
    return [re.compile(p, re.IGNORECASE) for p in patterns]


class BoilerplateParams(Params):
    ai_disclaimers: bool = Field(True, description="drop answers with a canned 'As an AI language model' disclaimer")
    min_web_markers: int = Field(2, ge=1, description="different page-chrome phrases that make a web footer")
    placeholders: bool = Field(True, description="lorem ipsum and unfilled templates")
    template_tokens: bool = Field(True, description="chat-template special tokens in the text")
    extra_patterns: list[str] = Field(default_factory=list, description="more regexes (case-insensitive) to drop on")


@register
class BoilerplateFilter(Filter):
    """Canned disclaimers, web page chrome, placeholders and leaked chat-template tokens in answers."""

    name = "boilerplate"
    Params = BoilerplateParams

    def __init__(self, params: BoilerplateParams | None = None):
        super().__init__(params)
        self._disclaimers = _compile(DISCLAIMERS)
        self._web = _compile(WEB_MARKERS)
        self._placeholders = _compile(PLACEHOLDERS)
        self._tokens = _compile(TEMPLATE_TOKENS)
        self._extra = _compile(self.params.extra_patterns)

    def check(self, record: Record) -> Verdict | None:
        p = self.params
        for i, m in enumerate(record.turns("assistant")):
            text = m["content"]
            where = f"assistant turn {i}: "
            if p.template_tokens:  # a leaked token is an error even inside a code block
                hit = next((x for x in self._tokens if x.search(text)), None)
                if hit:
                    return Verdict("leaked_template_token", where + hit.search(text).group(0))
            prose = strip_fenced_code(text)
            checks = ((p.ai_disclaimers, self._disclaimers, "ai_disclaimer"),
                      (p.placeholders, self._placeholders, "placeholder"), (True, self._extra, "boilerplate_pattern"))
            for on, patterns, reason in checks:
                for x in patterns if on else ():
                    found = x.search(prose)
                    if found:
                        return Verdict(reason, where + repr(short(prose[max(0, found.start() - 20): found.end() + 30], 90)))
            web = [x.search(prose).group(0) for x in self._web if x.search(prose)]
            if len(web) >= p.min_web_markers:
                return Verdict("web_boilerplate", where + ", ".join(repr(w) for w in web[:4]))
        return None
