"""Structure and length checks: empty turns, no final assistant turn, too many turns; length bounds
(words counted with `text.word_tokens`: a Chinese or Japanese character is a word)."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from workbench.curate.steps import Filter, Params, Rule, Verdict, register
from workbench.curate.text import count_words
from workbench.data.records import Record

PosInt = Optional[int]


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
            n_chars, n_words = len(m["content"]), count_words(m["content"])
            for value, lo, hi, unit in ((n_chars, p.min_turn_chars, p.max_turn_chars, "chars"),
                                        (n_words, p.min_turn_words, p.max_turn_words, "words")):
                if lo is not None and value < lo:
                    return Verdict(f"turn_too_short_{unit}", f"message {i}: {value} < {lo}")
                if hi is not None and value > hi:
                    return Verdict(f"turn_too_long_{unit}", f"message {i}: {value} > {hi}")
        text = record.text()
        n_chars, n_words = len(text), count_words(text)
        for value, lo, hi, unit in ((n_chars, p.min_chars, p.max_chars, "chars"), (n_words, p.min_words, p.max_words, "words")):
            if lo is not None and value < lo:
                return Verdict(f"conversation_too_short_{unit}", f"{value} < {lo}")
            if hi is not None and value > hi:
                return Verdict(f"conversation_too_long_{unit}", f"{value} > {hi}")
        return None

    BOUNDS = ("min_turn_chars", "max_turn_chars", "min_turn_words", "max_turn_words", "min_chars", "max_chars",
              "min_words", "max_words")

    def rules(self) -> list[Rule]:  # the bounds the recipe sets
        return [Rule(k, k[:3], True) for k in self.BOUNDS if getattr(self.params, k) is not None]

    def rule_values(self, record: Record) -> dict[str, float]:
        """Per-turn bounds: the shortest or longest user/assistant turn; conversation bounds: its text."""
        turns = [m["content"] for m in record.messages if m["role"] != "system"]
        text = record.text()
        out = {"min_chars": len(text), "max_chars": len(text), "min_words": count_words(text), "max_words": count_words(text)}
        if turns:
            chars, words = [len(t) for t in turns], [count_words(t) for t in turns]
            out |= {"min_turn_chars": min(chars), "max_turn_chars": max(chars), "min_turn_words": min(words),
                    "max_turn_words": max(words)}
        return out
