"""Security posture, tested so it stays as it is.

- `workbench app` binds 127.0.0.1 unless --host is given, and then warns (a real server);
- trust_remote_code is never switched on in the source;
- no torch.load without weights_only=True;
- every SQL statement in workbench/core/catalog/ is parameterized: string-built SQL may only
  interpolate reviewed structural pieces (table/column names, placeholders), never a value.
"""

from __future__ import annotations

import ast
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = sorted((REPO / "workbench").rglob("*.py")) + [REPO / "app.py"]


def _calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            yield node


def _name(func: ast.expr) -> str:
    return ast.unparse(func)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(pid: int, port: int, timeout: float = 90) -> set[str]:
    """Addresses the process tree of `pid` listens on at `port` (waits until it does)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        addrs = set()
        for p in procs:
            try:
                conns = p.net_connections(kind="inet")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            addrs |= {c.laddr.ip for c in conns if c.status == psutil.CONN_LISTEN and c.laddr.port == port}
        if addrs:
            return addrs
        time.sleep(0.5)
    raise AssertionError(f"nothing listened on port {port} within {timeout}s")


def _serve(args: list[str], ws_home: Path):
    port = free_port()
    env = {**os.environ, "WORKBENCH_HOME": str(ws_home)}
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "app", "--headless", "--port", str(port), *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    return proc, port


def _stop(proc) -> tuple[str, str]:
    os.killpg(proc.pid, 15)
    out, err = proc.communicate(timeout=30)
    return out, err


def test_app_binds_loopback_only_by_default(ws):
    proc, port = _serve([], ws.home)
    try:
        assert _listening(proc.pid, port) == {"127.0.0.1"}
    finally:
        out, err = _stop(proc)
    assert "warning" not in err.lower()
    assert f"http://127.0.0.1:{port}" in out


def test_app_host_flag_binds_there_with_a_warning(ws):
    proc, port = _serve(["--host", "127.0.0.2"], ws.home)  # loopback, but not the default: warns
    try:
        assert _listening(proc.pid, port) == {"127.0.0.2"}
    finally:
        out, err = _stop(proc)
    assert "warning:" in err and "no authentication" in " ".join(err.split())


def test_trust_remote_code_is_never_switched_on():
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        for call in _calls(path):
            for kw in call.keywords:
                if kw.arg == "trust_remote_code":
                    assert not (isinstance(kw.value, ast.Constant) and kw.value.value is True), f"{path}:{call.lineno}"
        assert "trust_remote_code=True" not in text.replace(" ", ""), path


def test_no_torch_load_without_weights_only():
    found = []
    for path in SOURCES:
        for call in _calls(path):
            if _name(call.func) == "torch.load":
                found.append(f"{path}:{call.lineno}")
                ok = any(kw.arg == "weights_only" and isinstance(kw.value, ast.Constant) and kw.value.value is True
                         for kw in call.keywords)
                assert ok, f"{path}:{call.lineno}: torch.load without weights_only=True"
    for path in SOURCES:  # `from torch import load` would dodge the check above
        assert "from torch import load" not in path.read_text(encoding="utf-8"), path


# Interpolations reviewed as structural (not values): what may appear inside string-built SQL.
REVIEWED = {
    "table",                                    # a loop over constant table names
    "where",                                    # built from constant "col = ?" pieces
    "sets",                                     # "col = ?" for the caller's keyword names
    "', '.join(cols)",                          # column names of a code-built row dict
    "', '.join(RESULT_COLUMNS)",                # a module constant
    "', '.join(('?' for _ in cols))",           # placeholders
    "', '.join(('?' for _ in RESULT_COLUMNS))",
    # journal.py (a Ray worker's catalog delta): identifiers quoted by _q, the constant attach
    # aliases "s"/"w", and our own temporary file paths as literals with quotes doubled
    "t", "cols", "match", "db", "_lit(before)", "_lit(after)",
    # evals.py item_means: a constant sub-select of ?-parameter lists, and per-metric aggregates
    # over the numbered columns c0..cN that _score_columns names (no user text)
    "sel", "sums",
}
SQL_METHODS = {"execute", "executemany", "query", "query_df", "sql"}


def _string_built(arg: ast.expr) -> list[str]:
    """The interpolated pieces of an f-string, or a marker for %, .format and + on strings."""
    if isinstance(arg, ast.JoinedStr):
        return [ast.unparse(v.value) for v in arg.values if isinstance(v, ast.FormattedValue)]
    if isinstance(arg, ast.BinOp) and isinstance(arg.op, (ast.Mod, ast.Add)):
        return [f"<{type(arg.op).__name__} operator: {ast.unparse(arg)[:80]}>"]
    if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and arg.func.attr == "format":
        return [f"<str.format: {ast.unparse(arg)[:80]}>"]
    return []


def test_catalog_sql_is_parameterized():
    checked, unreviewed = 0, []
    for path in sorted((REPO / "workbench" / "core" / "catalog").glob("*.py")):
        for call in _calls(path):
            if not (isinstance(call.func, ast.Attribute) and call.func.attr in SQL_METHODS and call.args):
                continue
            checked += 1
            unreviewed += [f"{path.name}:{call.lineno}: {piece}" for piece in _string_built(call.args[0])
                           if piece not in REVIEWED]
    assert checked > 30
    assert not unreviewed, "string-built SQL with unreviewed pieces (use ? parameters):\n" + "\n".join(unreviewed)


def test_the_scan_catches_a_formatted_value():
    bad = ast.parse('con.execute(f"SELECT * FROM versions WHERE name = \'{name}\'")').body[0].value
    assert _string_built(bad.args[0]) == ["name"] and "name" not in REVIEWED
    assert _string_built(ast.parse('q("SELECT %s" % name)').body[0].value.args[0])


def test_sql_metacharacters_in_values_are_stored_as_text(ws):
    """The library below the name rule: a hostile name is a value, never SQL."""
    from workbench.data.records import make_record
    from workbench.data.store import save_version

    evil = "x'; DROP TABLE versions; --"
    rec = make_record([{"role": "user", "content": evil}, {"role": "assistant", "content": evil}], source=evil)
    v = save_version(ws, [rec], evil, "ingest")
    cat = ws.catalog()
    assert cat.resolve_version(v.id)["name"] == evil
    assert [r["name"] for r in cat.list_versions()] == [evil]


@pytest.mark.parametrize("flag", ["--trust-remote-code"])
def test_no_cli_flag_turns_on_remote_code_by_default(flag):
    from tests.conftest import run_cli

    for group in ("train", "eval", "models"):
        proc = run_cli(group, "--help", check=False)
        assert proc.returncode == 0
        assert flag not in proc.stdout  # there is no such switch: remote code is never run


def test_app_serves_with_stdin_closed_and_no_streamlit_credentials(ws, tmp_path):
    """`workbench app` exactly as the README writes it, started off a terminal (nohup, a service): no
    first-run e-mail prompt, no browser, and the view answers its health check."""
    import urllib.request

    port = free_port()
    home = tmp_path / "user-home"  # a fresh user: no ~/.streamlit/credentials.toml
    home.mkdir()
    env = {**os.environ, "WORKBENCH_HOME": str(ws.home), "HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "app", "--port", str(port)], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _listening(proc.pid, port)
        body = ""
        for _ in range(120):
            assert proc.poll() is None, f"workbench app exited {proc.returncode}"
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5).read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert body == "ok"
    finally:
        out, err = _stop(proc)
    assert "email" not in (out + err).lower()
