"""The Streamlit view's Strategies page (issue 13): each strategy's verdict table, and for sweeps
and injections its dose-response figure with intervals, on the injected-duplicates ablation of
tests/test_strategies_e2e.py (trained once a session; no training of its own); served for real
and screenshotted in headless Chromium (e2e)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.ablate_helpers import chromium, free_port
from tests.test_strategies_e2e import dup  # noqa: F401 - the trained injected-duplicates ablation
from tests.test_app import APP, _wait_http, open_app, texts


def test_strategy_views_reuse_the_report_tables_and_dose_figures(dup):
    from workbench.report import strategy_views
    from workbench.report.strategies import COLUMNS

    views = strategy_views(dup["data"])
    assert [v["title"] for v in views] == ["Strategy inject (inject)"]
    n = sum(len(m) for m in dup["data"].headlines.values())  # headline metrics: a panel and a row each
    fig, rows = views[0]["figure"], views[0]["rows"]
    assert len(fig.axes) == n and fig.axes[0].get_xlabel() == "duplicate rate"
    assert fig.axes[0].get_legend_handles_labels()[1] == ["defect vs source", "caught vs control"]
    assert len(rows) == 2 * n and set(rows[0]) == set(COLUMNS)
    assert {r["variant"] for r in rows} == {"inject.duplicate-0.2", "inject.duplicate-0.2.exact_dedup"}
    assert all(r["verdict"] in ("helps", "hurts", "inconclusive") and r["reading"] for r in rows)


def test_strategies_page_shows_tables_figures_and_verdicts(monkeypatch, dup):
    at = open_app(monkeypatch, dup["ws"].home, "Strategies")
    body = texts(at)
    assert "Strategy inject (inject)" in body and "Verdict: helps" in body
    assert len(at.dataframe) == 1 and len(at.get("image")) == 1  # the verdict table and its dose-response figure
    table = at.dataframe[0].value
    assert set(table["role"]) == {"defect", "caught"} and "vs control (B - control)" in table.columns


@pytest.mark.e2e
def test_strategies_page_in_chromium(dup, tmp_path):
    browser = chromium()
    if browser is None:
        pytest.skip("chromium is not installed")
    port = free_port()
    env = {**os.environ, "WORKBENCH_HOME": str(dup["ws"].home)}
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", APP, "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/?page=Strategies&ablation=dup"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1400,1600", "--virtual-time-budget=60000"]
    try:
        _wait_http(f"http://127.0.0.1:{port}/_stcore/health", 60)
        words = ("Strategy inject (inject)", "inject.duplicate-0.2.exact_dedup", "Verdict: helps")
        shot, dom = tmp_path / "strategies.png", ""
        for attempt in range(12):  # the page streams in: retry until the script rendered all of it, then shoot
            if attempt:
                time.sleep(5)  # virtual time runs ahead of the server: let the earlier session's run finish
            dom = subprocess.run([browser, *flags, "--dump-dom", url], capture_output=True, text=True,
                                 timeout=120).stdout
            if not (all(w in dom for w in words) and "<img" in dom):
                continue
            shot.unlink(missing_ok=True)
            subprocess.run([browser, *flags, f"--screenshot={shot}", url], capture_output=True, timeout=120)
            if shot.exists() and shot.stat().st_size > 10_000:
                break
        if os.environ.get("WORKBENCH_SCREENSHOT") and shot.exists():  # keep it to look at
            shutil.copy(shot, os.environ["WORKBENCH_SCREENSHOT"])
        for w in words:
            assert w in dom, (w, dom[-2000:])
        assert shot.exists() and shot.stat().st_size > 10_000
    finally:
        server.terminate()
        server.wait(timeout=30)
