"""Format adapters for preference pairs and prompt-only rows (record kinds, see records.py).

Preference pairs, in the usual shapes (each becomes `messages` = prompt + chosen assistant
turn, and `rejected` = the other completion):

- `prompt` / `chosen` / `rejected` as strings;
- the same fields as message lists (UltraFeedback-binarized: `chosen` and `rejected` are whole
  conversations sharing the prompt turns; TRL's conversational form: `prompt` is the turns and
  `chosen` / `rejected` one assistant message each);
- a `messages` prefix with `chosen` and `rejected` completions (what `data export` writes).

Prompt-only rows (the `prompts` format): `{"prompt": "..."}` (auto-detected; an optional
`system` becomes the system prompt), or, with `--format prompts`, a `messages` list with no
assistant turn. Other keys (`answer`, `instruction_id_list`, `kwargs`...) go to `meta`, where
GRPO's rewards find them.
"""

from __future__ import annotations

from typing import Any

from workbench.data.records import RecordError, _meta_object, adapter
from workbench.core.reasoning import messages_mode

PAIR_KEYS = ("prompt", "chosen", "rejected", "messages", "source", "id", "reasoning_mode", "meta", "system")


def _turns(value: Any, what: str) -> list[dict]:
    """A field as a message list: text is one user turn, a dict one message."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(m, dict) for m in value):
        return list(value)
    raise RecordError(f"{what} is {type(value).__name__}, expected text or a list of messages")


def _completion(value: Any, what: str) -> tuple[list[dict], str]:
    """(the turns before it, the final assistant text) of a chosen/rejected field."""
    if isinstance(value, str):
        return [], value
    turns = _turns(value, what)
    if not turns or turns[-1].get("role") != "assistant":
        raise RecordError(f"{what}: the last message must be the assistant's completion")
    content = turns[-1].get("content")
    if not isinstance(content, str):
        raise RecordError(f"{what}: the completion's content is {type(content).__name__}, expected text")
    return turns[:-1], content


def _pair(prefix: list[dict], chosen: Any, rejected: Any, row: dict) -> dict:
    c_prefix, c_text = _completion(chosen, "chosen")
    r_prefix, r_text = _completion(rejected, "rejected")
    if c_prefix or r_prefix:  # whole conversations: they carry the prompt themselves
        if [(m.get("role"), m.get("content")) for m in c_prefix] != [(m.get("role"), m.get("content")) for m in r_prefix]:
            raise RecordError("chosen and rejected conversations differ before their final turn")
        prefix = c_prefix
    if row.get("system") and not any(m.get("role") == "system" for m in prefix):
        prefix = [{"role": "system", "content": row["system"]}, *prefix]
    messages = [*prefix, {"role": "assistant", "content": c_text}]
    mode = row.get("reasoning_mode")
    meta = {**{k: v for k, v in row.items() if k not in PAIR_KEYS}, **_meta_object(row.get("meta"))}
    return {"messages": messages, "rejected": r_text,
            "reasoning_mode": mode if mode is not None else messages_mode(messages), "meta": meta}


@adapter("preference", keys={"prompt", "chosen", "rejected"}, precedence=1)
def preference(row: dict) -> dict | None:
    if not {"prompt", "chosen", "rejected"} <= set(row):
        return None
    return _pair(_turns(row["prompt"], "prompt"), row["chosen"], row["rejected"], row)


@adapter("messages_preference", keys={"messages", "chosen", "rejected"}, precedence=1)
def messages_preference(row: dict) -> dict | None:
    if not {"messages", "chosen", "rejected"} <= set(row) or not isinstance(row["messages"], list):
        return None
    return _pair(_turns(row["messages"], "messages"), row["chosen"], row["rejected"], row)


@adapter("prompts", keys={"prompt"})
def prompts(row: dict) -> dict | None:
    if "prompt" in row and not {"completion", "chosen", "rejected"} & set(row):
        messages = _turns(row["prompt"], "prompt")
    elif "messages" in row and "prompt" not in row:  # only when named: --format prompts
        messages = _turns(row["messages"], "messages")
    else:
        return None
    if row.get("system") and not any(m.get("role") == "system" for m in messages):
        messages = [{"role": "system", "content": row["system"]}, *messages]
    mode = row.get("reasoning_mode")
    meta = {**{k: v for k, v in row.items() if k not in PAIR_KEYS}, **_meta_object(row.get("meta"))}
    return {"messages": messages, "prompt_only": True,
            "reasoning_mode": mode if mode is not None else messages_mode(messages), "meta": meta}
