"""The one record schema, and the format adapters that produce it.

A record is a conversation: `messages` (role + content, roles system/user/assistant),
a `source`, a `reasoning_mode` ("think", "no_think" or None) and free-form `meta`. Its
`kind` follows from its content: "sft" (it has assistant turns), "preference" (`messages`
is the prompt plus the chosen final assistant turn, `rejected` the other completion) or
"prompt" (no assistant turn: questions for `workbench synth` or GRPO); see data/pairs.py.
Its id is a hash of its content (messages + reasoning mode [+ rejected]), so the same conversation
always gets the same id; the n-th exact repeat inside one dataset gets a suffixed hash
so ids stay unique within a version and every removal can point at one record.

Adding a format: write `def my_format(row) -> dict | None` that returns
`{"messages": [...], "reasoning_mode": ..., "meta": {...}}` for rows it recognises
and None otherwise, and decorate it with `@adapter("my_format", keys={...})`.
"""

from __future__ import annotations

from workbench.core.errors import WorkbenchError

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace as _replace
from typing import Any

from workbench.core.hashing import record_id, repeat_id
from workbench.core.reasoning import MODES, messages_mode, mode_from_enable_thinking
from workbench.core.registry import Registry, check_named

ROLES = ("system", "user", "assistant")
REASONING_MODES = MODES
KINDS = ("sft", "preference", "prompt")


class RecordError(WorkbenchError, ValueError):
    """A row that cannot become a record; the message says why."""


@dataclass(frozen=True)
class Record:
    id: str
    messages: list[dict[str, str]]
    source: str = ""
    reasoning_mode: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    rejected: str | None = None  # preference pairs: the rejected final assistant turn

    # --- derived on demand -------------------------------------------------
    @property
    def kind(self) -> str:
        if self.rejected is not None:
            return "preference"
        return "sft" if any(m["role"] == "assistant" for m in self.messages) else "prompt"

    @property
    def chosen(self) -> str | None:
        """A preference pair's chosen completion (its last assistant turn)."""
        return self.messages[-1]["content"] if self.rejected is not None else None

    def turns(self, role: str | None = None) -> list[dict[str, str]]:
        return [m for m in self.messages if role is None or m["role"] == role]

    @property
    def n_turns(self) -> int:
        """Number of user/assistant turns (system prompts are not turns)."""
        return sum(1 for m in self.messages if m["role"] != "system")

    @property
    def n_chars(self) -> int:
        return sum(len(m["content"]) for m in self.messages)

    def prompt(self) -> str:
        """The first user turn: what the record asks."""
        return next((m["content"] for m in self.messages if m["role"] == "user"), "")

    def assistant_text(self) -> str:
        return "\n\n".join(m["content"] for m in self.messages if m["role"] == "assistant")

    def text(self) -> str:
        return "\n\n".join(m["content"] for m in self.messages)

    def n_tokens(self, tokenizer) -> int:
        return sum(len(tokenizer(m["content"], add_special_tokens=False)["input_ids"]) for m in self.messages)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "messages": [dict(m) for m in self.messages],
            "source": self.source,
            "reasoning_mode": self.reasoning_mode,
            "meta": self.meta,
        }
        if self.rejected is not None:
            out["rejected"] = self.rejected
        return out

    def replace(self, **changes) -> "Record":
        """A copy with some fields changed; the id is recomputed from the new content."""
        data = {**self.to_dict(), **changes}
        data.pop("id")
        return make_record(**data, prompt_only=self.kind == "prompt")


TOOL_ROLES = ("tool", "function", "ipython")
ROLE_ALIASES = {"developer": "system"}  # OpenAI's name for the system prompt of its reasoning models
TEXT_PARTS = {"text": "text", "input_text": "text", "output_text": "text", "refusal": "refusal"}


def content_text(content: Any, what: str = "content") -> str:
    """A message's content as text: a string; null (an empty turn); or a list of parts, the OpenAI
    shape `[{"type": "text", "text": ...}, ...]`, whose text parts are joined with a newline.
    A part that is not text (an image, audio, a file) is an error: records hold text only."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise RecordError(f"{what} content is {type(content).__name__}, expected text")
    texts = []
    for j, part in enumerate(content):
        if isinstance(part, str):
            texts.append(part)
            continue
        kind = part.get("type", "text") if isinstance(part, dict) else None
        key = TEXT_PARTS.get(kind) if isinstance(kind, str) else None
        if key is None:
            shown = f"of type {kind!r}" if isinstance(part, dict) else f"a {type(part).__name__}"
            raise RecordError(f"{what} content part {j} is {shown}; only text parts can be ingested")
        text = part.get(key)
        if isinstance(text, dict) and isinstance(text.get("value"), str):  # the Assistants API: {"value": ...}
            text = text["value"]
        if not isinstance(text, str):
            raise RecordError(f"{what} content part {j} has {key} of type {type(text).__name__}, expected text")
        texts.append(text)
    return "\n".join(texts)


def validate_messages(messages: Any, reasoning_mode: Any = None, prompt_only: bool = False) -> list[dict[str, str]]:
    """Check and normalise a message list; raise RecordError naming the problem.

    A conversation needs an assistant turn; a prompt-only one (`prompt_only`) must have none."""
    if not isinstance(messages, list) or not messages:
        raise RecordError("no messages")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise RecordError(f"message {i} is not an object")
        role, content = m.get("role"), m.get("content")
        if role in TOOL_ROLES or m.get("tool_calls") or m.get("function_call"):
            raise RecordError(f"message {i} is a tool {'turn' if role in TOOL_ROLES else 'call'}: records hold text "
                              "turns only (system, user, assistant); drop tool turns before ingesting, or pass "
                              "--skip-invalid to set these rows aside")
        role = ROLE_ALIASES.get(role, role) if isinstance(role, str) else role
        if role not in ROLES:
            raise RecordError(f"message {i} has unknown role {role!r} (expected one of {', '.join(ROLES)})")
        out.append({"role": role, "content": content_text(content, f"message {i}")})
    has_answer = any(m["role"] == "assistant" for m in out)
    if prompt_only and (has_answer or out[-1]["role"] != "user"):
        raise RecordError("a prompt-only row ends on a user turn and has no assistant turn "
                          "(a conversation with answers ingests as SFT data)")
    if not prompt_only and not has_answer:
        raise RecordError("no assistant turn (for prompt-only data use --format prompts)")
    if reasoning_mode not in (None, *REASONING_MODES):
        raise RecordError(f"unknown reasoning_mode {reasoning_mode!r} (expected think, no_think or null)")
    return out


def make_record(
    messages: list[dict[str, str]],
    source: str = "",
    reasoning_mode: str | None = None,
    meta: dict[str, Any] | None = None,
    id: str | None = None,
    rejected: str | None = None,
    prompt_only: bool = False,
) -> Record:
    messages = validate_messages(messages, reasoning_mode, prompt_only and rejected is None)
    if rejected is not None:
        if not isinstance(rejected, str):
            raise RecordError(f"rejected is {type(rejected).__name__}, expected text")
        if messages[-1]["role"] != "assistant":
            raise RecordError("a preference pair ends on its chosen assistant turn")
    return Record(
        id=id or record_id(messages, reasoning_mode, rejected),
        messages=messages,
        source=source or "",
        reasoning_mode=reasoning_mode,
        meta=dict(meta or {}),
        rejected=rejected,
    )


def unique_ids(records: Iterable[Record]) -> Iterator[Record]:
    """Give repeated ids distinct, deterministic ids: the n-th repeat hashes `id#n`.

    Deterministic for a given order; a candidate already in use (e.g. a repeat id that a
    previous ingest derived) moves on to the next n.
    """
    used: set[str] = set()
    last_n: dict[str, int] = {}
    for rec in records:
        if rec.id in used:
            n = last_n.get(rec.id, 0)
            while True:
                n += 1
                new_id = repeat_id(rec.id, n)
                if new_id not in used:
                    break
            last_n[rec.id] = n
            rec = _replace(rec, id=new_id, meta={**rec.meta, "repeat_of": rec.id})
        used.add(rec.id)
        yield rec


# --------------------------------------------------------------------------------------
# Format adapters: each turns one raw row (a dict) into record fields, or returns None.
# --------------------------------------------------------------------------------------

AdapterFn = Callable[[dict], "dict | None"]


@dataclass(frozen=True)
class Adapter:
    name: str
    keys: frozenset[str]  # keys whose presence identifies the format
    convert: AdapterFn
    precedence: int = 0  # detection tries higher first (preference shapes before `messages`)


# built in below (and in pairs.py); installed packages add theirs as entry points in group
# `workbench.formats`, naming a function decorated with @adapter (or an Adapter)
ADAPTERS: Registry[Adapter] = Registry("record format", "workbench.formats", check_named(Adapter, "record format: decorate the function with @adapter"))


def adapter(name: str, keys: set[str], precedence: int = 0):
    """Register a format adapter (a taken name raises RegistryError); detection tries them by
    precedence, then in registration order."""

    def deco(fn: AdapterFn) -> AdapterFn:
        ADAPTERS.register(name, Adapter(name, frozenset(keys), fn, precedence))
        return fn

    return deco


# The /think format lives in workbench.core.reasoning; these names are the adapters' callers.
_mode_from_flag = mode_from_enable_thinking
_messages_mode = messages_mode


def _mode_of(messages: list) -> str | None:
    """The mode flagged in a system prompt, read from text content or from content parts."""
    flat = []
    for m in messages:
        if isinstance(m, dict) and isinstance(m.get("content"), list):
            try:
                m = {**m, "content": content_text(m["content"])}
            except RecordError:
                pass  # validation reports it, with the message's position
        flat.append(m)
    return _messages_mode(flat)


@adapter("smoltalk2", keys={"messages", "chat_template_kwargs"})
def smoltalk2(row: dict) -> dict | None:
    kwargs = row.get("chat_template_kwargs")
    if not isinstance(kwargs, dict) or not isinstance(row.get("messages"), list):
        return None
    messages = list(row["messages"])
    custom = kwargs.get("custom_instructions")
    if custom and not any(m.get("role") == "system" for m in messages):
        messages.insert(0, {"role": "system", "content": custom})
    meta = {k: v for k, v in row.items() if k not in ("messages", "chat_template_kwargs", "source")}
    meta["chat_template_kwargs"] = kwargs
    mode = _mode_from_flag(kwargs.get("enable_thinking"))
    return {"messages": messages, "reasoning_mode": mode if mode is not None else _mode_of(messages), "meta": meta}


def _meta_object(meta: Any) -> dict:
    """A row's `meta`: an object, or the JSON text of one (what `data export` writes)."""
    if isinstance(meta, str) and meta.startswith("{"):
        try:
            meta = json.loads(meta)
        except json.JSONDecodeError:
            return {"meta": meta}
    if isinstance(meta, dict):
        return meta
    return {} if meta is None else {"meta": meta}


@adapter("messages", keys={"messages"})
def openai_messages(row: dict) -> dict | None:
    messages = row.get("messages")
    if not isinstance(messages, list) or (messages and not isinstance(messages[0], dict)) or (
        messages and "role" not in messages[0]
    ):
        return None
    mode = row.get("reasoning_mode")
    if mode is None:
        mode = _mode_of(messages)
    meta = _meta_object(row.get("meta"))
    extra = {k: v for k, v in row.items() if k not in ("messages", "reasoning_mode", "meta", "source", "id")}
    return {"messages": messages, "reasoning_mode": mode, "meta": {**extra, **meta}}


SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "chatgpt": "assistant", "bing": "assistant", "bard": "assistant", "model": "assistant",
                  "system": "system"}


@adapter("sharegpt", keys={"conversations"})
def sharegpt(row: dict) -> dict | None:
    conv = row.get("conversations")
    if not isinstance(conv, list) or (conv and not isinstance(conv[0], dict)) or (conv and "from" not in conv[0]):
        return None
    messages = []
    for i, turn in enumerate(conv):
        if not isinstance(turn, dict):
            raise RecordError(f"conversation turn {i} is not an object")
        who = str(turn.get("from", "")).lower()
        if who not in SHAREGPT_ROLES:
            raise RecordError(f"conversation turn {i} has unknown speaker {turn.get('from')!r}")
        messages.append({"role": SHAREGPT_ROLES[who], "content": turn.get("value", "")})
    if row.get("system"):
        messages.insert(0, {"role": "system", "content": row["system"]})
    meta = {k: v for k, v in row.items() if k not in ("conversations", "system", "source", "id")}
    return {"messages": messages, "reasoning_mode": _messages_mode(messages), "meta": meta}


@adapter("alpaca", keys={"instruction", "output"})
def alpaca(row: dict) -> dict | None:
    if "instruction" not in row or "output" not in row:
        return None
    prompt = str(row["instruction"])
    if row.get("input"):
        prompt = f"{prompt}\n\n{row['input']}"
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": row["output"]}]
    if row.get("system"):
        messages.insert(0, {"role": "system", "content": row["system"]})
    meta = {k: v for k, v in row.items() if k not in ("instruction", "input", "output", "system", "source", "id")}
    return {"messages": messages, "reasoning_mode": None, "meta": meta}


@adapter("prompt_completion", keys={"prompt", "completion"})
def prompt_completion(row: dict) -> dict | None:
    if "prompt" not in row or "completion" not in row:
        return None
    prompt, completion = row["prompt"], row["completion"]
    # TRL's conversational prompt/completion: both sides are message lists.
    if isinstance(prompt, list) and isinstance(completion, list):
        messages = list(prompt) + list(completion)
    else:
        messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]
    meta = {k: v for k, v in row.items() if k not in ("prompt", "completion", "source", "id")}
    return {"messages": messages, "reasoning_mode": _mode_of(messages), "meta": meta}


def detect_format(row: dict) -> str:
    """Name of the first adapter whose identifying keys are all present in the row."""
    if not isinstance(row, dict):
        raise RecordError(f"row is a {type(row).__name__}, expected an object")
    keys = set(row)
    for ad in sorted(ADAPTERS.values(), key=lambda a: -a.precedence):
        if ad.keys <= keys and ad.convert(row) is not None:
            return ad.name
    tried = "; ".join(f"{a.name} ({', '.join(sorted(a.keys))})" for a in ADAPTERS.values())
    raise RecordError(f"row fits no known format; keys seen: {sorted(keys)}; formats tried: {tried}")


MAX_META_DEPTH = 100


def _check_depth(meta: dict) -> None:
    """Refuse a row whose extra fields nest deeper than MAX_META_DEPTH (no real export does; JSON
    writers and readers give up near 1000 levels, so it could not be stored and read back)."""
    stack = [(meta, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_META_DEPTH:
            raise RecordError(f"extra fields nest deeper than {MAX_META_DEPTH} levels")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend((v, depth + 1) for v in value)


def convert_row(row: dict, fmt: str, default_source: str = "") -> Record:
    """Convert one raw row with the named adapter into a validated Record."""
    if fmt not in ADAPTERS:
        raise RecordError(f"unknown format {fmt!r}; known: {', '.join(ADAPTERS)}")
    if not isinstance(row, dict):
        raise RecordError(f"row is a {type(row).__name__}, expected an object")
    fields = ADAPTERS[fmt].convert(row)
    if fields is None:
        raise RecordError(
            f"row does not fit format {fmt!r} (needs keys {sorted(ADAPTERS[fmt].keys)}); keys seen: {sorted(row)}"
        )
    source = row.get("source") if isinstance(row.get("source"), str) and row.get("source") else default_source
    meta = {k: v for k, v in fields.get("meta", {}).items() if v is not None}
    _check_depth(meta)
    return make_record(fields["messages"], source=source, reasoning_mode=fields.get("reasoning_mode"), meta=meta,
                       rejected=fields.get("rejected"), prompt_only=fields.get("prompt_only", False))

