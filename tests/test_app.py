"""The Streamlit view: every page under AppTest on a real (tiny) ablation, reading while a
writer works, and the app served for real and loaded in headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.ablate_helpers import chromium, filled_workspace
from tests.browser import render, served_app
from tests.conftest import REPO

APP = str(REPO / "app.py")


@pytest.fixture(scope="module")
def filled(tmp_path_factory, tiny_model_dir):
    return filled_workspace(tmp_path_factory, tiny_model_dir)


def open_app(monkeypatch, home, page: str | None = None):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    if page:
        at.sidebar.radio(key="page").set_value(page).run()
        assert not at.exception, at.exception
    return at


def texts(at) -> str:
    parts = [e.value for kind in ("markdown", "caption", "text", "info", "subheader", "warning") for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def test_empty_workspace_says_what_to_run(monkeypatch, tmp_path):
    at = open_app(monkeypatch, tmp_path / "nothing-here")
    assert "workbench ablate" in texts(at)


def test_leaderboard_shows_every_variant_and_suite_with_cis(monkeypatch, filled):
    at = open_app(monkeypatch, filled.home)
    assert at.sidebar.selectbox(key="ablation").value == "tiny"
    assert "Leaderboard · tiny" in texts(at)
    board = at.table[0].value  # the grid: variants as rows, one column per suite (its primary metric)
    assert set(board["variant"]) == {"base", "all", "math"}
    suites = [c for c in board.columns if c != "variant"]
    assert {c.split(" (")[0] for c in suites} == {"gsm_style", "think_follow"}
    for c in suites:
        assert all("[" in cell.split(" · Δ ")[0] for cell in board[c])  # a CI on every score
        assert (board[board["variant"] == "base"][c].str.endswith("Δ (baseline)")).all()


def test_compare_page_shows_items_side_by_side_filtered_by_suite_and_metric(monkeypatch, filled):
    at = open_app(monkeypatch, filled.home, "Compare runs")
    assert at.selectbox(key="run_a").value == "base"
    at.selectbox(key="run_b").set_value("math · seed 0").run()
    at.selectbox(key="suite").set_value("gsm_style").run()
    metrics = at.selectbox(key="metric").options
    assert metrics, "the suite's metrics are offered"
    at.radio(key="show").set_value("all").run()
    assert not at.exception
    body = texts(at)
    assert "items · B wins" in body
    # one prompt and two responses per item, under A and B captions
    assert "A · base" in body and "B · math · seed 0" in body
    assert len(at.text) >= 3
    at.selectbox(key="metric").set_value(metrics[-1]).run()
    assert not at.exception


def test_training_page_has_runs_and_loss_curves(monkeypatch, filled):
    at = open_app(monkeypatch, filled.home, "Training")
    runs = at.dataframe[0].value
    assert set(runs["variant"]) == {"all", "math"}
    assert at.get("arrow_line_chart") or at.get("vega_lite_chart"), "a loss chart is drawn"


def test_data_page_has_lineage_removals_and_composition(monkeypatch, filled):
    at = open_app(monkeypatch, filled.home, "Data")
    variants = at.dataframe[0].value
    assert set(variants["variant"]) == {"all", "math"}
    graph = at.get("graphviz_chart")
    assert graph, "lineage graph drawn"
    assert "Mixture composition" in texts(at)


def test_pages_read_while_another_process_writes(monkeypatch, filled, tmp_path):
    """A writer process commits short transactions in a loop while every page renders."""
    home = tmp_path / "copy"
    shutil.copytree(filled.home, home)
    writer = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys, time\n"
            "from workbench.catalog import Catalog\n"
            "cat = Catalog(sys.argv[1])\n"
            "end = time.time() + 20\n"
            "i = 0\n"
            "while time.time() < end:\n"
            "    cat.task_started('tiny', f'probe-{i % 5}', 'probe', 'probe', None, 'probe', {})\n"
            "    cat.task_done('tiny', f'probe-{i % 5}', {}, 0.0)\n"
            "    i += 1\n"
            "print(i)\n"
        ), str(home / "catalog.duckdb")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        time.sleep(1.0)
        for page in ("Leaderboard", "Compare runs", "Training", "Data"):
            at = open_app(monkeypatch, home, page)
            assert not at.exception
    finally:
        out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert int(out) > 5, "the writer kept committing while the pages read"


def test_app_served_for_real_renders_the_leaderboard_in_chromium(filled, tmp_path):
    browser = chromium()
    if browser is None:
        pytest.skip("chromium is not installed")
    with served_app(APP, filled.home, tmp_path / "streamlit.log") as url:
        shot = tmp_path / "leaderboard.png"
        words = ("Leaderboard · tiny", "base", "all", "math", "gsm_style", "think_follow", "(baseline)")
        page = render(browser, url, words, tmp_path / "chromium", shot)
        assert not page.missing, (page.missing, page.text[-2000:])
        assert shot.exists() and shot.stat().st_size > 10_000
        keep = os.environ.get("WORKBENCH_SCREENSHOT")
        if keep:
            shutil.copy(shot, keep)
        # a link opens a page (?page=): Compare opens on all disagreements, every metric side by side
        shot = tmp_path / "compare.png"
        words = ("Compare two runs, item by item", "all disagreements", "B wins", "run A")
        page = render(browser, url + "?page=Compare+runs&ablation=tiny", words, tmp_path / "chromium", shot)
        assert not page.missing, (page.missing, page.text[-2000:])
        assert shot.exists() and shot.stat().st_size > 10_000
