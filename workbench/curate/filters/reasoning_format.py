"""Reasoning format (SmolLM3 conventions)."""

from __future__ import annotations

from pydantic import Field

from workbench.core import reasoning
from workbench.curate.steps import Filter, Params, Verdict, register
from workbench.data.records import Record

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
