"""The bad-input corpus (tests/badinput/cases.yaml) through ingest, curate, mix, train, suites, ablate.

Each case: exit 2, its expected text (file:line or key path), no traceback, and every catalog
table unchanged (a full dump before and after). Cases run in process through `run_cli` (the
console entry's own code path); a few also through `python -m workbench` in a subprocess.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_cli as run_subprocess
from workbench.cli import app
from workbench.cli.common import run_cli

CORPUS = Path(__file__).resolve().parent / "badinput"
CASES = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))
ARGS = {
    "ingest": ["data", "ingest", "{file}", "--name", "bad"],
    "curate": ["curate", "good", "--recipe", "{file}", "--name", "bad-curated"],
    "mix": ["mix", "--spec", "{file}"],
    "train": ["train", "--data", "good", "--config", "{file}"],
    "suite": ["eval", "suites"],
    "ablate": ["ablate", "{file}", "--no-report"],
}
ALL = [(area, c) for area, cases in CASES.items() for c in cases]


def catalog_dump(ws) -> dict[str, list]:
    """Every row of every catalog table, sorted: equal dumps mean an unchanged catalog."""
    cat = ws.catalog()
    tables = [r["table_name"] for r in cat.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1")]
    return {t: sorted(json.dumps(r, default=str, sort_keys=True) for r in cat.query(f'SELECT * FROM "{t}"'))
            for t in tables}


def body_files(ws) -> set[str]:
    return {str(p.relative_to(ws.home)) for p in ws.home.rglob("*") if p.is_file() and "catalog" not in p.name}


@pytest.fixture(scope="module")
def good_home(tmp_path_factory) -> Path:
    """A workspace holding good.jsonl ingested as 'good', made once: each test gets a copy."""
    from workbench.core.workspace import Workspace
    from workbench.data.ingest import ingest

    home = tmp_path_factory.mktemp("good") / "home"
    ingest(Workspace(home), CORPUS / "good.jsonl", name="good")
    return home


@pytest.fixture
def good_ws(ws, good_home, monkeypatch):
    monkeypatch.chdir(CORPUS)  # error messages name the file as given
    shutil.copytree(good_home, ws.home, dirs_exist_ok=True)  # the same files as ingesting it here
    return ws


def _in_process(monkeypatch, capsys, argv: list[str], env: dict | None = None) -> tuple[int, str, str]:
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(sys, "argv", ["workbench", *argv])
    code = 0
    try:
        run_cli(app)
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _argv(area: str, case: dict) -> tuple[list[str], dict]:
    file = case["file"]
    argv = [a.replace("{file}", file) for a in ARGS[area]]
    env = {"WORKBENCH_SUITES": str(CORPUS / file)} if area == "suite" else {}
    return argv, env


def test_corpus_files_exist_and_cover_every_area():
    assert set(CASES) == set(ARGS)
    for _, c in ALL:
        assert (CORPUS / c["file"]).exists() or c["file"].startswith("missing"), c["file"]
    assert len(ALL) >= 40


@pytest.mark.parametrize("area, case", ALL, ids=[f"{a}:{c['file']}" for a, c in ALL])
def test_bad_input_case(area, case, good_ws, monkeypatch, capsys):
    argv, env = _argv(area, case)
    before, files_before = catalog_dump(good_ws), body_files(good_ws)
    code, out, err = _in_process(monkeypatch, capsys, argv, env)
    assert "Traceback" not in out + err
    if case.get("ok"):
        assert code == 0, err
        assert case["expect"] in out, out
        return
    assert code == 2, (code, out, err)
    assert case["expect"] in " ".join(err.split()), err  # rich may fold a long line
    assert err.startswith("error:") or "Error:" in err
    assert catalog_dump(good_ws) == before
    assert body_files(good_ws) == files_before


@pytest.mark.parametrize("area, file", [("ingest", "invalid_utf8.jsonl"), ("ingest", "binary.jsonl"),
                                        ("mix", "mix_invalid_utf8.yaml"), ("ablate", "spec_invalid_utf8.yaml")])
def test_console_entry_cases(area, file, good_ws):
    case = next(c for a, c in ALL if a == area and c["file"] == file)
    argv, env = _argv(area, case)
    before = catalog_dump(good_ws)
    proc = run_subprocess(*argv, env=env, check=False, cwd=CORPUS)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert case["expect"] in " ".join(proc.stderr.split())
    assert catalog_dump(good_ws) == before


def test_a_bom_file_gives_the_same_records_as_without(ws, tmp_path):
    from workbench.data.ingest import ingest

    plain = tmp_path / "bom.jsonl"  # the same name: the source (file stem) is part of each record
    plain.write_bytes((CORPUS / "bom.jsonl").read_bytes()[3:])
    a = ingest(ws, CORPUS / "bom.jsonl", name="with-bom").version
    b = ingest(ws, plain, name="without-bom").version
    assert a.id == b.id


def test_one_50mb_line(good_ws, tmp_path, monkeypatch, capsys):
    """A 50 MB malformed line: a short error naming file:line (not the line itself), catalog unchanged."""
    big = tmp_path / "big.jsonl"
    with open(big, "w", encoding="utf-8") as fh:
        fh.write('{"messages": [{"role": "user", "content": "' + "x" * (50 * 2**20) + '"}, oops]}\n')
    before = catalog_dump(good_ws)
    code, out, err = _in_process(monkeypatch, capsys, ["data", "ingest", str(big), "--name", "big"])
    assert code == 2 and "big.jsonl:1: malformed JSON" in err and len(err) < 2000, err[:500]
    assert catalog_dump(good_ws) == before


@pytest.mark.parametrize("name", ["", "x" * 5000, "../../x'; DROP TABLE versions; --", "-starts-with-dash", "a b"])
@pytest.mark.parametrize("area", ["ingest", "curate"])
def test_bad_names_are_refused(area, name, good_ws, monkeypatch, capsys):
    argv = (["data", "ingest", "good.jsonl", "--name", name] if area == "ingest"
            else ["curate", "good", "--name", name])
    before = catalog_dump(good_ws)
    code, out, err = _in_process(monkeypatch, capsys, argv)
    assert code == 2 and "Invalid value for '--name'" in err and "use letters, digits" in " ".join(err.split()), err
    assert catalog_dump(good_ws) == before


def test_bad_name_refused_by_the_library_too(ws):
    from workbench.data.ingest import ingest
    from workbench.core.names import InvalidNameError

    with pytest.raises(InvalidNameError, match=r"5000 characters"):
        ingest(ws, CORPUS / "good.jsonl", name="x" * 5000)
    assert ws.catalog().list_versions() == []
