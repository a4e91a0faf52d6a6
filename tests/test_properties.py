"""Property-based tests (hypothesis) for the record adapters.

- any valid row, in any supported format, converts; its exported form converts back to the
  same record id, and a whole generated dataset ingested, exported and ingested again gives
  the same version id;
- any mutation that breaks the schema raises RecordError; any mutation at all raises
  RecordError or nothing, never another exception.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.data.records import RecordError, convert_row, detect_format

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
word = st.text("abcdefghij", min_size=1, max_size=8)
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False), text)
json_value = st.recursive(json_scalar, lambda c: st.lists(c, max_size=3) | st.dictionaries(word, c, max_size=3),
                          max_leaves=6)


@st.composite
def conversations(draw) -> list[dict]:
    msgs = [{"role": "system", "content": draw(text)}] if draw(st.booleans()) else []
    for _ in range(draw(st.integers(1, 3))):
        msgs += [{"role": "user", "content": draw(text)}, {"role": "assistant", "content": draw(text)}]
    return msgs


@st.composite
def valid_rows(draw) -> dict:
    msgs = draw(conversations())
    fmt = draw(st.sampled_from(["messages", "sharegpt", "alpaca", "prompt_completion"]))
    body = [m for m in msgs if m["role"] != "system"]
    if fmt == "messages":
        row = {"messages": msgs}
    elif fmt == "sharegpt":
        who = {"user": "human", "assistant": "gpt", "system": "system"}
        row = {"conversations": [{"from": who[m["role"]], "value": m["content"]} for m in msgs]}
    elif fmt == "alpaca":
        row = {"instruction": body[0]["content"], "output": body[1]["content"]}
    else:
        row = {"prompt": body[0]["content"], "completion": body[1]["content"]}
    if draw(st.booleans()):
        row["source"] = draw(word)
    if draw(st.booleans()):
        row[f"x_{draw(word)}"] = draw(json_scalar)  # an extra field lands in meta
    return row


def exported(record) -> dict:
    """The row `workbench data export` writes for a record (messages format)."""
    from workbench.data.store import _meta_json

    return {"id": record.id, "messages": record.messages, "source": record.source,
            "reasoning_mode": record.reasoning_mode, "meta": _meta_json(record.meta)}


@settings(max_examples=200, deadline=None)
@given(valid_rows())
def test_valid_row_converts_and_round_trips(row):
    rec = convert_row(row, detect_format(row), default_source="src")
    back = json.loads(json.dumps(exported(rec)))
    again = convert_row(back, detect_format(back), default_source="other")
    assert again.id == rec.id and again.messages == rec.messages and again.source == rec.source


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(valid_rows(), min_size=1, max_size=6))
def test_ingest_export_ingest_gives_the_same_version_id(rows, tmp_path_factory):
    from workbench.data.ingest import ingest
    from workbench.data.store import export_version
    from workbench.core.workspace import Workspace

    tmp = tmp_path_factory.mktemp("prop")
    ws = Workspace(tmp / "home")
    src = tmp / "data.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    v1 = ingest(ws, src, name="first").version
    out = export_version(ws, v1.id, tmp / "export" / "data.jsonl")
    ws2 = Workspace(tmp / "home2")
    v2 = ingest(ws2, out, name="second").version
    assert v2.id == v1.id and v2.n_rows == v1.n_rows


BREAKS = [
    ("role becomes an unknown value", lambda m, v: m.__setitem__("role", v if v not in ("system", "user", "assistant") else "robot")),
    # a list is content given as parts (the OpenAI shape; `[]` is empty content): not a break
    ("content becomes a non-string", lambda m, v: m.__setitem__("content", v if not isinstance(v, (str, list)) and v is not None else 7)),
    ("message becomes a non-object", None),
    ("no assistant turn", None),
    ("messages is empty", None),
]


@settings(max_examples=300, deadline=None)
@given(msgs=conversations(), which=st.integers(0, len(BREAKS) - 1), value=json_value, pos=st.integers(0, 10))
def test_schema_breaking_mutation_raises_record_error(msgs, which, value, pos):
    name, mutate = BREAKS[which]
    msgs = [dict(m) for m in msgs]
    i = pos % len(msgs)
    if mutate is not None:
        mutate(msgs[i], value)
    elif name == "message becomes a non-object":
        msgs[i] = value if not isinstance(value, dict) else [value]
    elif name == "no assistant turn":
        msgs = [m for m in msgs if m["role"] != "assistant"]
    else:
        msgs = []
    with pytest.raises(RecordError):
        convert_row({"messages": msgs}, "messages")


@st.composite
def mutated_rows(draw):
    """A valid row with one value anywhere in it (top level, a message, a field) replaced."""
    row = json.loads(json.dumps(draw(valid_rows())))
    paths = [()]

    def walk(node, path):
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for k, child in items:
            paths.append((*path, k))
            walk(child, (*path, k))

    walk(row, ())
    path = draw(st.sampled_from(paths))
    value = draw(json_value)
    if not path:
        return value
    node = row
    for k in path[:-1]:
        node = node[k]
    if draw(st.booleans()) and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return row


@settings(max_examples=400, deadline=None)
@given(mutated_rows())
def test_any_mutation_gives_a_record_or_record_error(row):
    try:
        fmt = detect_format(row)
        rec = convert_row(row, fmt)
    except RecordError:
        return
    # a row left with only its `prompt` is a prompt-only record (data/pairs.py); every other has an answer
    assert rec.id and (rec.kind == "prompt" or any(m["role"] == "assistant" for m in rec.messages))
    assert all(isinstance(m["content"], str) for m in rec.messages)
