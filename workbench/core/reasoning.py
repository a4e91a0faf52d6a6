"""The /think reasoning format (SmolLM3 conventions): the one home of its tags and rules.

- A record's mode is `think`, `no_think` or None (no reasoning convention).
- The mode is flagged by `/think` or `/no_think` at the end of the system prompt.
- A think answer is one closed, non-empty `<think>` block first, then the answer:
  `<think>\\n{trace}\\n</think>\\n{answer}`.
- A no_think answer carries the empty block `<think>\\n\\n</think>\\n` (or none), never a trace.

Readers (mode from flags), training (flag and empty block added), synthesis (raw generations
shaped into the format), curation (format checks), evals (think-follow) and the post-training
sanity check all use the functions here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MODES = ("think", "no_think")
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
EMPTY_THINK = "<think>\n\n</think>\n"
FLAGS = {"think": "/think", "no_think": "/no_think"}
THINK_BLOCK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_TRAILING_FLAG = re.compile(r"\s*/(no_)?think\s*$")
_PARAGRAPHS = re.compile(r"\n\s*\n")


# ----------------------------------------------------------------------------------------
# Mode flags
# ----------------------------------------------------------------------------------------


def flag_mode(text: str) -> str | None:
    """The mode a system prompt flags at its end, or None."""
    text = text.rstrip()
    if text.endswith(FLAGS["no_think"]):
        return "no_think"
    if text.endswith(FLAGS["think"]):
        return "think"
    return None


def messages_mode(messages: list[dict]) -> str | None:
    """The mode flagged at the end of a system prompt among the messages, or None."""
    for m in messages:
        if isinstance(m, dict) and m.get("role") == "system" and isinstance(m.get("content"), str):
            mode = flag_mode(m["content"])
            if mode:
                return mode
    return None


def mode_from_enable_thinking(flag: Any) -> str | None:
    """The mode for a chat template's `enable_thinking` kwarg (bool or a string such as "true")."""
    if flag is None:
        return None
    if isinstance(flag, str):
        flag = flag.strip().lower() in ("true", "1", "yes", "think")
    return "think" if flag else "no_think"


def strip_flag(text: str) -> str:
    """A system prompt without its trailing mode flag."""
    return _TRAILING_FLAG.sub("", text)


def set_flag(messages: list[dict[str, str]], mode: str) -> list[dict[str, str]]:
    """The system prompt first, ending with the mode's flag (which replaces any other flag)."""
    system = strip_flag(next((m["content"] for m in messages if m["role"] == "system"), ""))
    rest = [m for m in messages if m["role"] != "system"]
    return [{"role": "system", "content": f"{system}\n\n{FLAGS[mode]}".strip()}] + rest


def as_trained(messages: list[dict[str, str]], mode: str | None) -> list[dict[str, str]]:
    """Messages in the trained format: the flag at the end of the system prompt (kept if one is
    there already), and the empty think block in front of no_think answers that lack one."""
    messages = [dict(m) for m in messages]
    if mode not in FLAGS:
        return messages
    flag = FLAGS[mode]
    system = next((m for m in messages if m["role"] == "system"), None)
    if system is None:
        messages.insert(0, {"role": "system", "content": flag})
    elif flag_mode(system["content"]) is None:
        system["content"] = f"{system['content'].rstrip()}\n\n{flag}" if system["content"].strip() else flag
    if mode == "no_think":
        for m in messages:
            if m["role"] == "assistant" and not m["content"].lstrip().startswith(THINK_OPEN):
                m["content"] = EMPTY_THINK + m["content"]
    return messages


# ----------------------------------------------------------------------------------------
# Answers: parse, check, shape
# ----------------------------------------------------------------------------------------


def think_answer(trace: str, answer: str) -> str:
    return f"{THINK_OPEN}\n{trace}\n{THINK_CLOSE}\n{answer}"


def split_turn(content: str) -> tuple[str | None, str | None, str]:
    """(problem, trace, answer) of one assistant turn; problem is None when well-formed, and
    trace is None when the turn has no think block."""
    body = content.lstrip()
    opens, closes = body.count(THINK_OPEN), body.count(THINK_CLOSE)
    if opens == 0 and closes == 0:
        return None, None, content
    if opens != 1 or closes != 1:
        kind = "think_block_unclosed" if opens > closes else "think_block_malformed"
        return kind, None, content
    if not body.startswith(THINK_OPEN):
        return "think_block_not_first", None, content
    trace, _, answer = body[len(THINK_OPEN):].partition(THINK_CLOSE)
    return None, trace, answer


def think_state(response: str) -> str:
    """'thought' (closed, non-empty), 'empty' (closed, empty), 'unclosed', or 'none'."""
    response = response or ""
    m = THINK_BLOCK.search(response)
    if m:
        return "thought" if m.group(1).strip() else "empty"
    return "unclosed" if THINK_OPEN in response else "none"


def fits_mode(text: str, mode: str | None) -> bool:
    """Whether a generation starts in its mode's format (think: a closed block first; no_think:
    an empty block first, then the answer; no mode: anything non-empty)."""
    head = text.lstrip()
    if mode == "think":
        return head.startswith(THINK_OPEN) and THINK_CLOSE in text
    if mode == "no_think":
        return head.startswith(THINK_OPEN) and THINK_CLOSE in head and not head[len(THINK_OPEN):head.index(THINK_CLOSE)].strip()
    return bool(text.strip())


@dataclass(frozen=True)
class Shaped:
    content: str | None  # assistant content in the format, or None when it cannot be kept
    reason: str | None = None
    detail: str = ""
    repair: str | None = None  # how the output was brought into the format, if it was


def _split_last_paragraph(text: str) -> tuple[str, str] | None:
    """(trace, answer) for a step-by-step output whose last paragraph is the answer."""
    parts = [p.strip() for p in _PARAGRAPHS.split(text) if p.strip()]
    if len(parts) < 2:
        parts = [p.strip() for p in text.split("\n") if p.strip()]
    if len(parts) < 2:
        return None
    return "\n\n".join(parts[:-1]), parts[-1]


def _shape_think(text: str, repair_think: bool) -> Shaped:
    repair = None
    if THINK_OPEN not in text and THINK_CLOSE in text:
        text, repair = THINK_OPEN + text, "opening_tag"  # the model began inside the trace
    if THINK_CLOSE not in text and repair_think:
        split = _split_last_paragraph(text.replace(THINK_OPEN, ""))
        if split is not None:
            return Shaped(think_answer(*split), repair="last_paragraph_is_answer")
    if THINK_OPEN not in text:
        return Shaped(None, "think_block_missing", text[:80])
    match = THINK_BLOCK.search(text)
    if match is None:
        return Shaped(None, "think_block_unclosed", text[:80])
    trace = match.group(1).strip()
    answer = text[match.end():].strip()
    if not trace:
        return Shaped(None, "think_block_empty")
    if not answer:
        return Shaped(None, "empty_answer", "nothing after </think>")
    return Shaped(think_answer(trace, answer), repair=repair)


def shape(text: str, mode: str, truncated: bool, empty_think_block: bool = True, repair_think: bool = False) -> Shaped:
    """Bring a raw generation into the format, or say why it cannot be kept."""
    if truncated:
        return Shaped(None, "truncated", "stopped at the max_new_tokens cap")
    text = text.strip()
    if mode == "think":
        return _shape_think(text, repair_think)
    match = THINK_BLOCK.search(text)
    if match is not None and match.group(1).strip():
        return Shaped(None, "trace_in_no_think", match.group(1).strip()[:80])
    answer = THINK_BLOCK.sub("", text)
    if THINK_CLOSE in answer:  # "reasoning</think>answer" without an opening tag
        return Shaped(None, "trace_in_no_think", answer.split(THINK_CLOSE)[0].strip()[:80])
    answer = answer.replace(THINK_OPEN, "").strip()
    if not answer:
        return Shaped(None, "empty_answer")
    return Shaped(EMPTY_THINK + answer if empty_think_block else answer)
