"""The Streamlit view's Strategies page (issue 13): each strategy's verdict table, and for sweeps
and injections its dose-response figure with intervals, on the injected-duplicates ablation of
tests/test_strategies_e2e.py (trained once a session; no training of its own); served for real
and screenshotted in headless Chromium (e2e)."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.browser import render, served_app
from tests.ablate_helpers import chromium
from tests.test_strategies_e2e import dup  # noqa: F401 - the trained injected-duplicates ablation
from tests.test_app import APP, open_app, texts


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
    with served_app(APP, dup["ws"].home, tmp_path / "streamlit.log") as url:
        words = ("Strategy inject (inject)", "Verdict: helps")  # the table's cells are drawn on a canvas: AppTest reads them
        shot = tmp_path / "strategies.png"
        page = render(browser, url + "?page=Strategies&ablation=dup", words, tmp_path / "chromium", shot, height=1600)
        if os.environ.get("WORKBENCH_SCREENSHOT"):  # keep it to look at
            shutil.copy(shot, os.environ["WORKBENCH_SCREENSHOT"])
        assert not page.missing, (page.missing, page.text[-2000:])
        assert "<img" in page.html  # the dose-response figure
        assert shot.exists() and shot.stat().st_size > 10_000
