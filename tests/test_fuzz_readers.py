"""Fuzzed readers: hypothesis-made JSONL, JSON, CSV and Parquet files through `ingest`.

Rows come in every shape a real export has (messages with text, null content or a list of
parts in the OpenAI shape, tool calls and tool turns, ShareGPT, Alpaca, prompt/completion,
preference pairs, prompts) and in shapes no reader should trust (deep nesting, huge lines, NUL
bytes, Latin-1 and UTF-16 bytes, lone surrogates, rows that are not objects, truncated files).
The contract, for every file:

- it ingests, and then each row built to be valid reads back with exactly the text it was
  built with (content parts joined), and `verify` is clean; or
- it fails as one `WorkbenchError` whose message names the file and the line (or row, or
  array index) where that can be said; no other exception, ever;
- and on failure the catalog and the data folder are exactly as they were.

The default suite runs a short fixed-seed sample (derandomized); `-m faults_long` runs the long
search (WORKBENCH_FUZZ_EXAMPLES, default 3000: about ten minutes on two cores).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.core.errors import WorkbenchError

# --- rows ---------------------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
WEIRD_TEXT = st.one_of(TEXT, st.just("\x00nul\x00"), st.just("\ud800 lone surrogate"), st.just("é" * 3),
                       st.text(st.sampled_from("{}[]\",:\\\n\r\t ,;"), max_size=20))


@st.composite
def content(draw, valid: bool):
    """(raw content, the text it should read as)."""
    text = draw(TEXT)
    if valid:
        kind = draw(st.sampled_from(["str", "parts", "parts_many", "null"]))
    else:
        kind = draw(st.sampled_from(["int", "dict", "image_part", "bad_part", "weird", "nested_list"]))
    if kind == "str":
        return text, text
    if kind == "parts":
        return [{"type": "text", "text": text}], text
    if kind == "parts_many":
        more = draw(st.lists(TEXT, min_size=1, max_size=3))
        return [{"type": "text", "text": t} for t in [text, *more]], "\n".join([text, *more])
    if kind == "null":
        return None, ""
    if kind == "int":
        return draw(st.integers()), None
    if kind == "dict":
        return {"text": text}, None
    if kind == "image_part":
        return [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}], None
    if kind == "bad_part":
        return [{"type": "text", "text": draw(st.integers())}], None
    if kind == "weird":
        return draw(WEIRD_TEXT), None
    return [[text]], None


@st.composite
def conversation(draw, valid: bool):
    """(messages, expected [(role, text)] or None)."""
    n = draw(st.integers(1, 4))
    msgs, expected = [], []
    if draw(st.booleans()):
        c, t = draw(content(True))
        msgs.append({"role": "system", "content": c})
        expected.append(("system", t))
    for i in range(n):
        c, t = draw(content(True))
        msgs.append({"role": "user", "content": c})
        expected.append(("user", t))
        c, t = draw(content(True))
        msgs.append({"role": "assistant", "content": c})
        expected.append(("assistant", t))
    if not valid:
        broken = draw(st.sampled_from(["content", "tool_call", "tool_turn", "role", "not_object", "empty"]))
        i = draw(st.integers(0, len(msgs) - 1))
        if broken == "content":
            msgs[i] = {**msgs[i], "content": draw(content(False))[0]}
        elif broken == "tool_call":
            msgs[i] = {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"x\": 1}"}}]}
        elif broken == "tool_turn":
            msgs.insert(i, {"role": "tool", "tool_call_id": "call_1", "content": "42"})
        elif broken == "role":
            msgs[i] = {**msgs[i], "role": draw(st.one_of(st.none(), st.integers(), WEIRD_TEXT))}
        elif broken == "not_object":
            msgs[i] = draw(st.one_of(TEXT, st.integers(), st.none()))
        else:
            msgs = []
        return msgs, None
    return msgs, expected


def deep_text(depth: int) -> str:
    """JSON text nested `depth` levels (built as text: json.dumps itself stops near 1000)."""
    opens = "".join("[" if i % 2 else '{"k": ' for i in range(depth))
    closes = "".join("]" if i % 2 else "}" for i in reversed(range(depth)))
    return opens + '"bottom"' + closes


@st.composite
def row(draw):
    """(row, expected [(role, text)] or None when the row need not be valid)."""
    valid = draw(st.integers(0, 4)) > 0  # mostly valid rows, so that whole files are valid often
    shape = draw(st.sampled_from(["messages", "messages", "sharegpt", "alpaca", "prompt_completion", "preference",
                                  "prompts", "junk"]))
    if shape == "messages":
        msgs, expected = draw(conversation(valid))
        out = {"messages": msgs}
    elif shape == "sharegpt":
        a, b = draw(TEXT), draw(TEXT)
        out = {"conversations": [{"from": "human", "value": a}, {"from": "gpt", "value": b}]}
        expected = [("user", a), ("assistant", b)]
        if not valid:
            out["conversations"][0]["from"] = draw(st.one_of(st.none(), WEIRD_TEXT))
            expected = None
    elif shape == "alpaca":
        a, b = draw(TEXT), draw(TEXT)
        out, expected = {"instruction": a, "output": b}, [("user", a), ("assistant", b)]
        if not valid:
            out["output"] = draw(st.one_of(st.none(), st.integers(), st.lists(TEXT)))
            expected = None
    elif shape == "prompt_completion":
        a, b = draw(TEXT), draw(TEXT)
        out, expected = {"prompt": a, "completion": b}, [("user", a), ("assistant", b)]
        if not valid:
            out["completion"] = draw(st.one_of(st.integers(), st.dictionaries(TEXT, TEXT, max_size=2)))
            expected = None
    elif shape == "preference":
        a, b, c = draw(TEXT), draw(TEXT), draw(TEXT)
        out, expected = {"prompt": a, "chosen": b, "rejected": c}, [("user", a), ("assistant", b)]
        if not valid:
            out["rejected"] = draw(st.one_of(st.none(), st.integers(), st.lists(st.integers(), max_size=2)))
            expected = None
    elif shape == "prompts":
        a = draw(TEXT)
        out, expected = {"prompt": a}, [("user", a)]
    else:
        out = draw(st.one_of(st.dictionaries(TEXT, st.one_of(TEXT, st.integers(), st.none()), max_size=3),
                             st.lists(st.integers(), max_size=3), TEXT, st.none()))
        expected = None
    if isinstance(out, dict) and draw(st.integers(0, 9)) == 0:  # extra keys go to meta, nesting and all
        depth = draw(st.sampled_from([3, 50, 2000]))
        out["extra"] = f"__DEEP_{depth}__"  # nested when the file is written (hypothesis prints rows)
        expected = expected if depth == 3 else None
    kind = {"preference": "preference", "prompts": "prompt"}.get(shape, "sft")
    return out, expected, kind


# --- files --------------------------------------------------------------------------------------

CORRUPTIONS = ["none", "none", "none", "nul", "latin1", "utf16", "huge_line", "deep_line", "truncated", "bom",
               "blank_lines"]


def jsonl_bytes(rows: list, corruption: str, c: dict) -> bytes:
    lines = [dumps(r, ensure_ascii=c["ascii"]).encode("utf-8", "surrogatepass") for r in rows]
    i = c["at"] % len(lines)
    if corruption == "nul":
        lines[i] = lines[i][: len(lines[i]) // 2] + b"\x00" + lines[i][len(lines[i]) // 2:]
    elif corruption == "latin1":
        lines[i] = json.dumps({"messages": [{"role": "user", "content": "caf\u00e9"}, {"role": "assistant",
                              "content": "ok"}]}, ensure_ascii=False).encode("latin-1")
    elif corruption == "utf16":
        return b"\n".join(lines).decode("utf-8", "surrogatepass").encode("utf-16", "surrogatepass")
    elif corruption == "huge_line":
        big = "x" * 300_000  # one 600 kB line (and past csv's default 128 kB field limit below)
        lines[i] = json.dumps({"prompt": big, "completion": big}).encode()
    elif corruption == "deep_line":
        lines[i] = b"[" * 100_000 + b"]" * 100_000
    elif corruption == "truncated":
        lines[-1] = lines[-1][: max(1, len(lines[-1]) // 2)]
    elif corruption == "bom":
        lines[0] = b"\xef\xbb\xbf" + lines[0]
    elif corruption == "blank_lines":
        lines = [x for line in lines for x in (line, b"   ")]
    return b"\n".join(lines) + b"\n"


DEEP = re.compile(r'"__DEEP_(\d+)__"')


def dumps(value, **kw) -> str:
    return DEEP.sub(lambda m: deep_text(int(m.group(1))), json.dumps(value, **kw))


def write_file(path_base: Path, fmt: str, rows: list, corruption: str, c: dict) -> Path:
    path = path_base.with_suffix({"jsonl": ".jsonl", "json": ".json", "csv": ".csv", "parquet": ".parquet"}[fmt])
    if fmt == "jsonl":
        path.write_bytes(jsonl_bytes(rows, corruption, c))
    elif fmt == "json":
        body = dumps(rows, indent=c["indent"], ensure_ascii=c["ascii"])
        raw = body.encode("utf-8", "surrogatepass")
        if corruption == "truncated":
            raw = raw[: len(raw) // 2]
        elif corruption == "deep_line":
            raw = b"[" * 100_000 + b"]" * 100_000
        elif corruption in ("latin1", "utf16"):
            raw = body.encode("utf-16") if corruption == "utf16" else raw + "é".encode("latin-1")
        path.write_bytes(raw)
    elif fmt == "csv":
        import csv
        import io

        keys = sorted({k for r in rows if isinstance(r, dict) for k in r})
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(keys or ["x"])
        for r in rows:
            r = r if isinstance(r, dict) else {"x": r}
            w.writerow(["" if r.get(k) is None else (r[k] if isinstance(r[k], str) else dumps(r[k]))
                        for k in keys or ["x"]])
        raw = buf.getvalue().encode("utf-8", "surrogatepass")
        if corruption == "nul":
            raw = raw.replace(b"\n", b"\x00\n", 1)
        elif corruption == "latin1":
            raw += "é,é\n".encode("latin-1")
        elif corruption == "huge_line":
            raw += ("a," * 5 + "x" * 200_000 + "\n").encode()
        path.write_bytes(raw)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pa.Table.from_pylist([json.loads(dumps(r)) if isinstance(r, dict) else {"value": r} for r in rows])
        except (pa.ArrowException, TypeError, ValueError, OverflowError, RecursionError):  # rows as JSON text
            table = pa.table({"row": [dumps(r) for r in rows]})
            c["unfaithful"] = True
        pq.write_table(table, path)
        if corruption == "truncated":
            path.write_bytes(path.read_bytes()[:-20])
    return path


@st.composite
def input_file(draw):
    rows = draw(st.lists(row(), min_size=1, max_size=6))
    fmt = draw(st.sampled_from(["jsonl", "jsonl", "json", "csv", "parquet"]))
    corruption = draw(st.sampled_from(CORRUPTIONS))
    choices = {"ascii": draw(st.booleans()), "at": draw(st.integers(0, 5)), "indent": draw(st.sampled_from([None, 1])),
               "tolerant": draw(st.booleans())}
    return fmt, corruption, rows, choices


# --- the contract -------------------------------------------------------------------------------


def catalog_state(ws) -> tuple:
    """Row counts of every table and the workspace's files (ingest only adds: equal means unchanged)."""
    cat = ws.catalog()
    tables = [r["table_name"] for r in cat.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1")]
    counts = cat.query(" UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM \"{t}\"" for t in tables))
    return sorted((r["t"], r["n"]) for r in counts), sorted(p.name for p in ws.home.rglob("*") if p.is_file() and "catalog" not in p.name
                        and "intents" not in p.parts)


def located(message: str, path: Path) -> bool:
    """The message names the file, and the line, array index or Parquet row where there is one."""
    p = re.escape(str(path))
    return re.match(rf"{p}(:\d+( \[\d+\])?|\[\d+\]| row \d+)?: ", message) is not None


def check_one(ws, sample, counter=[0]) -> str:  # noqa: B006 - the counter names each input file
    from workbench.data.ingest import ingest
    from workbench.data.store import load_records, version_hash
    from workbench.core.hashing import record_id

    fmt, corruption, rows, choices = sample
    counter[0] += 1
    choices = dict(choices)
    path = write_file(ws.home.parent / f"in{counter[0]}", fmt, [r for r, _, _ in rows], corruption, choices)
    tolerant = choices["tolerant"]
    # every row valid, one record kind, a file written faithfully: it must ingest, and read back as built
    must = (not tolerant and corruption in ("none", "bom", "blank_lines") and fmt != "csv"
            and not choices.get("unfaithful") and all(e is not None for _, e, _ in rows)
            and len({k for _, _, k in rows}) == 1)
    before = catalog_state(ws)
    try:
        result = ingest(ws, path, name=f"fuzz{counter[0]}", skip_invalid=tolerant)
    except WorkbenchError as e:
        assert not must, f"a valid file failed: {e}"
        assert located(str(e), path), f"error without file:line: {e}"
        assert catalog_state(ws) == before, "a failed ingest changed the catalog"
        return "error"
    finally:
        path.unlink(missing_ok=True)
    records = load_records(ws, result.version.id)
    got = [[(m["role"], m["content"]) for m in r.messages] for r in records]
    if must:
        assert got == [[(role, text) for role, text in e] for _, e, _ in rows]
    # what verify checks, for this version: each id from its content, the version id from its records
    assert version_hash(records) == result.version.id
    assert all(r.id == record_id(r.messages, r.reasoning_mode, r.rejected) or r.meta.get("repeat_of") for r in records)
    return "ok"


SAMPLE = settings(derandomize=True, max_examples=50, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))


@SAMPLE
@given(sample=input_file())
def test_fuzzed_files_ingest_or_fail_with_file_and_line(sample):
    check_one(_workspace(), sample)


_WS: dict = {}


def _workspace():
    """One workspace per test run (a fresh catalog per example would be most of the time spent)."""
    from workbench.core.workspace import Workspace

    if "ws" not in _WS:
        _WS["dir"] = tempfile.mkdtemp(prefix="fuzz-")
        _WS["ws"] = Workspace(Path(_WS["dir"]) / "home")
    return _WS["ws"]


@pytest.mark.faults_long
def test_fuzzed_files_long_run():
    n = int(os.environ.get("WORKBENCH_FUZZ_EXAMPLES", "3000"))

    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(sample=input_file())
    def run(sample):
        check_one(_workspace(), sample)

    run()
