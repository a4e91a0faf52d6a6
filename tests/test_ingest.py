"""Ingest every supported format through the real CLI, inspect, diff and export versions."""

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli, run_cli_here
from workbench.data.ingest import IngestError, ingest
from workbench.data.store import load_records

FIX = Path(__file__).parent / "fixtures"

FORMATS = [
    ("alpaca.jsonl", "alpaca", 3),
    ("sharegpt.json", "sharegpt", 2),
    ("messages.parquet", "messages", 2),
    ("prompt_completion.csv", "prompt_completion", 2),
    ("smoltalk2.jsonl", "smoltalk2", 2),
]


@pytest.mark.parametrize("filename, fmt, n", FORMATS)
def test_ingest_each_format(ws, filename, fmt, n):
    result = ingest(ws, FIX / filename, name=fmt)
    assert result.formats == {fmt: n}
    assert result.version.created and result.version.n_rows == n
    records = load_records(ws, fmt)
    assert len(records) == n and all(any(m["role"] == "assistant" for m in r.messages) for r in records)
    row = ws.catalog().resolve_version(fmt)
    assert row["n_rows"] == n and row["stats"]["rows"] == n and row["stats"]["tokens"] > 0


def test_smoltalk2_modes_reach_stats(ws):
    ingest(ws, FIX / "smoltalk2.jsonl", name="st")
    stats = ws.catalog().resolve_version("st")["stats"]
    assert set(stats["by_mode"]) == {"think", "no_think"}
    assert "smoltalk2-math" in stats["by_source"] and "smoltalk2" in stats["by_source"]


def test_cli_ingest_show_diff_lineage_export_and_reingest_is_noop(ws, tmp_path):
    out = run_cli("data", "ingest", str(FIX / "alpaca.jsonl"), "--name", "small").stdout
    version_id = out.split()[1].rstrip(":")
    parquet_files = sorted((ws.home / "data").glob("*.parquet"))
    again = run_cli_here("data", "ingest", str(FIX / "alpaca.jsonl"), "--name", "small").stdout
    assert version_id in again and "already registered" in again
    assert sorted((ws.home / "data").glob("*.parquet")) == parquet_files
    assert len(ws.catalog().list_versions()) == 1

    show = run_cli_here("data", "show", "small").stdout
    assert "rows 3" in show and "by source" in show and "by reasoning mode" in show

    # a second version with one record more: diff sees exactly that record
    bigger = tmp_path / "bigger.jsonl"
    bigger.write_text((FIX / "alpaca.jsonl").read_text() + json.dumps({"instruction": "New?", "output": "Yes."}) + "\n")
    run_cli_here("data", "ingest", str(bigger), "--name", "bigger")
    diff = run_cli_here("data", "diff", "small", "bigger").stdout
    assert "+1 added" in diff and "-0 removed" in diff and "3 in both" in diff

    assert "is a root" in run_cli_here("data", "lineage", "small").stdout
    assert "Name three primary colors." in run_cli_here("data", "head", "small", "-n", "1").stdout
    assert "small" in run_cli_here("data", "list").stdout

    for suffix in ("jsonl", "parquet"):
        target = tmp_path / f"export.{suffix}"
        run_cli_here("data", "export", "small", str(target))
        import datasets

        ds = datasets.load_dataset("json" if suffix == "jsonl" else "parquet", data_files=str(target), split="train")
        assert len(ds) == 3 and ds[0]["messages"][0]["role"] == "user"


def test_same_content_under_another_file_name_has_same_id(ws, tmp_path):
    copy = tmp_path / "copy.jsonl"
    copy.write_text((FIX / "alpaca.jsonl").read_text())
    a = ingest(ws, FIX / "alpaca.jsonl", name="a", source="s").version
    b = ingest(ws, copy, name="b", source="s").version
    assert a.id == b.id and not b.created


# --- bad input --------------------------------------------------------------------------


def test_malformed_jsonl_names_file_and_line_and_registers_nothing(ws):
    proc = run_cli_here("data", "ingest", str(FIX / "malformed.jsonl"), "--name", "bad", check=False)
    assert proc.returncode == 2
    assert "malformed.jsonl:2: malformed JSON" in proc.stderr
    assert ws.catalog().list_versions() == []


def test_skip_invalid_writes_rejects_and_keeps_good_rows(ws):
    proc = run_cli_here("data", "ingest", str(FIX / "malformed.jsonl"), "--name", "ok", "--skip-invalid")
    assert "1 rows rejected" in proc.stdout
    v = ws.catalog().resolve_version("ok")
    assert v["n_rows"] == 2
    rejects = [json.loads(line) for line in (ws.home / "rejects" / f"{v['id']}.jsonl").read_text().splitlines()]
    assert len(rejects) == 1 and rejects[0]["where"].endswith("malformed.jsonl:2") and "malformed JSON" in rejects[0]["error"]
    removals = ws.catalog().removals(v["id"])
    assert [(r["step"], r["reason"]) for r in removals] == [("ingest", "malformed_json")]


@pytest.mark.parametrize(
    "filename, message",
    [
        ("unknown_format.jsonl", "fits no known format; keys seen: ['answer_text', 'question']"),
        ("empty.jsonl", "no valid records"),
        ("bad_role.jsonl", "bad_role.jsonl:1: message 1 has unknown role 'robot'"),
        ("no_assistant.jsonl", "no_assistant.jsonl:1: no assistant turn"),
        ("corrupt.parquet", "unreadable Parquet file"),
        ("does_not_exist.jsonl", "no such file"),
    ],
)
def test_bad_input_errors(ws, filename, message):
    with pytest.raises(IngestError, match=None) as e:
        ingest(ws, FIX / filename, name="x")
    assert message in str(e.value)
    assert ws.catalog().list_versions() == []


def test_unknown_format_error_lists_formats_via_cli(ws):
    proc = run_cli_here("data", "ingest", str(FIX / "unknown_format.jsonl"), "--name", "x", check=False)
    assert proc.returncode == 2
    for name in ("alpaca", "sharegpt", "messages", "prompt_completion", "smoltalk2"):
        assert name in proc.stderr


def test_hub_id_offline_fails_fast_with_clear_message(ws, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # fails at once rather than waiting on a network (pytest's timeout guards a hang)
    with pytest.raises(IngestError, match="cannot be reached"):
        ingest(ws, "HuggingFaceTB/smoltalk2", name="hub")
