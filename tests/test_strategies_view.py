"""The Streamlit view's Strategies page (issue 13): each strategy's verdict table, and for sweeps
its dose-response figure with intervals, on a real trained ablation; served for real and
screenshotted in headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.ablate_helpers import chromium, free_port
from tests.strategies_helpers import shared_ablation
from tests.test_app import APP, _wait_http, open_app, texts


@pytest.fixture(scope="module")
def shared(tmp_path_factory, tiny_model_dir):
    return shared_ablation(tmp_path_factory, tiny_model_dir)


def test_strategy_views_reuse_the_report_tables_and_dose_figures(shared):
    from workbench.report import strategy_views
    from workbench.report.strategies import COLUMNS

    views = {v["title"]: v for v in strategy_views(shared["data"])}
    assert set(views) == {"Strategy step (per_step)", "Strategy sweep (sweep)"}
    assert views["Strategy step (per_step)"]["figure"] is None  # a per-step strategy has no dose axis
    fig = views["Strategy sweep (sweep)"]["figure"]
    ax = fig.axes[0]
    assert ax.get_xlabel() == "answer_words" and ax.get_legend_handles_labels()[1] == ["value vs source"]
    sweep = views["Strategy sweep (sweep)"]["rows"]
    n = sum(len(m) for m in shared["data"].headlines.values())  # headline metrics: a row each
    assert len(fig.axes) == n and len(sweep) == 2 * n
    assert sorted({r["value"] for r in sweep}) == ["0.25", "0.5"] and set(sweep[0]) == set(COLUMNS)
    assert all(r["verdict"] in ("helps", "hurts", "inconclusive") for r in sweep)


def test_strategies_page_shows_tables_figures_and_verdicts(monkeypatch, shared):
    at = open_app(monkeypatch, shared["ws"].home)
    at.sidebar.selectbox(key="ablation").set_value("shared").run()
    at.sidebar.radio(key="page").set_value("Strategies").run()
    assert not at.exception, at.exception
    body = texts(at)
    assert "Strategy step (per_step)" in body and "Strategy sweep (sweep)" in body and "Verdict: helps" in body
    tables = [d.value for d in at.dataframe]
    assert len(tables) == 2
    step, n = tables[0], sum(len(m) for m in shared["data"].headlines.values())
    assert set(step["role"]) == {"alone", "left_out", "full"} and len(step) == 5 * n
    assert set(tables[1]["variant"]) == {"sweep.answer_words-low0.25", "sweep.answer_words-low0.5"}
    assert len(at.get("imgs")) == 1  # the sweep's dose-response figure


def test_strategies_page_in_chromium(shared, tmp_path):
    browser = chromium()
    if browser is None:
        pytest.skip("chromium is not installed")
    port = free_port()
    env = {**os.environ, "WORKBENCH_HOME": str(shared["ws"].home)}
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", APP, "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/?page=Strategies&ablation=shared"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1400,1600", "--virtual-time-budget=60000"]
    try:
        _wait_http(f"http://127.0.0.1:{port}/_stcore/health", 60)
        words = ("Strategy step (per_step)", "Strategy sweep (sweep)", "sweep.answer_words-low0.5")
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
