"""The Streamlit view: every page under AppTest on a real (tiny) ablation, reading while a
writer works, and the app served for real and loaded in headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.ablate_helpers import chromium, filled_workspace
from tests.browser import render, served_app
from tests.conftest import REPO

APP = str(REPO / "app.py")


@pytest.fixture(scope="module")
def filled(tmp_path_factory, tiny_model_dir):
    return filled_workspace(tmp_path_factory, tiny_model_dir)


@pytest.fixture(scope="module")
def credit_home(tmp_path_factory, tiny_model_dir):
    """A real tiny ablation 'credit': a two-step shapley (4 subsets) and a two-source mixture_search (K = 4),
    killed and resumed, then its proposal trained as the validation round (strategies_helpers.credit_ablation,
    made once a session for the tests of the xdist group "credit")."""
    from tests.strategies_helpers import credit_ablation

    return credit_ablation(tmp_path_factory, tiny_model_dir)["ws"]


def open_app(monkeypatch, home, page: str | None = None, ablation: str | None = None, link: bool = False):
    """The view on `home`, turned to `page` through the sidebar, or with `link` opened on it by its
    link (`?page=...`: only that page is drawn)."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    at = AppTest.from_file(APP, default_timeout=120)
    if link:
        at.query_params["page"] = page
    at.run()
    assert not at.exception, at.exception
    if ablation:
        at.sidebar.selectbox(key="ablation").set_value(ablation).run()
        assert not at.exception, at.exception
    if page and not link:
        at.sidebar.radio(key="page").set_value(page).run()
        assert not at.exception, at.exception
    if page:
        assert at.sidebar.radio(key="page").value == page
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
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys\n"
            "from pathlib import Path\n"
            "from workbench.core.catalog import Catalog\n"
            "cat, stop = Catalog(sys.argv[1]), Path(sys.argv[2])\n"
            "i = 0\n"
            "while i < 6 or not stop.exists():  # writes until told to stop: live while every page renders\n"
            "    cat.task_started('tiny', f'probe-{i % 5}', 'probe', 'probe', None, 'probe', {})\n"
            "    cat.task_done('tiny', f'probe-{i % 5}', {}, 0.0)\n"
            "    i += 1\n"
            "    if i == 1:\n"
            "        print('writing', flush=True)\n"
            "print(i)\n"
        ), str(home / "catalog.duckdb"), str(stop)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "writing", "the writer did not start"  # its first commit is in
        for page in ("Leaderboard", "Compare runs", "Training", "Data"):
            at = open_app(monkeypatch, home, page)
            assert not at.exception
        assert writer.poll() is None, "the writer stopped before the pages were read"
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=300)
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
        words = ("Compare two runs, item by item", "Opens on the top verdict", "all disagreements", "B wins", "run A")
        page = render(browser, url + "?page=Compare+runs&ablation=tiny", words, tmp_path / "chromium", shot)
        assert not page.missing, (page.missing, page.text[-2000:])
        assert shot.exists() and shot.stat().st_size > 10_000
        if os.environ.get("WORKBENCH_SCREENSHOTS"):
            shutil.copy(shot, os.path.join(os.environ["WORKBENCH_SCREENSHOTS"], "compare.png"))


def test_compare_page_opens_on_the_top_verdict_with_the_items_that_moved_most(monkeypatch, filled):
    import re

    from workbench import report
    from workbench.report import credit

    data = report.report_data(filled, "tiny")
    lead = credit.lead_comparison(data, report.targets(filled, "tiny")[1])
    top, rows = lead["decision"], data.against_baseline()
    assert top in rows and top.a == data.baseline
    assert all(top.called or not d.called for d in rows)  # a called decision leads when there is one
    same = [d for d in rows if d.called == top.called and d.p_adjusted is not None]
    assert all(d.p_adjusted >= top.p_adjusted for d in same)  # and the most decisive of those
    at = open_app(monkeypatch, filled.home, "Compare runs")
    assert at.selectbox(key="run_a").value == report.target_label(lead["a"])
    assert at.selectbox(key="run_b").value == report.target_label(lead["b"])
    assert (at.selectbox(key="suite").value, at.selectbox(key="metric").value) == (top.suite, top.metric)
    body = texts(at)
    assert f"Opens on the top verdict: {top.b} vs {top.a} on {top.suite} {top.metric}" in body
    assert "No items" not in body
    moved = [abs(float(b) - float(a)) for a, b in re.findall(r"A (-?[\d.]+) → B (-?[\d.]+)", body)]
    assert moved and all(x >= y - 0.011 for x, y in zip(moved, moved[1:])), moved  # the largest moves first


def frames(at) -> list:
    return [d.value for d in at.dataframe]


@pytest.mark.xdist_group("credit")
def test_mixture_page_shows_the_fit_the_proposal_and_the_validation(monkeypatch, credit_home):
    at = open_app(monkeypatch, credit_home.home, "Mixture", ablation="credit")
    body = texts(at)
    assert "Mixture search: mix" in body and "validation: **" in body and "not validated yet" not in body
    tables = frames(at)
    side = next(f for f in tables if {"mixture", "kind"} <= set(f.columns))
    assert list(side["mixture"])[:2] == ["natural", "proposal"] and {"chat", "math"} <= set(side.columns)
    fits = next(f for f in tables if "cv RMSE (leave-one-out)" in f.columns)
    assert set(fits["model"]) == {"log-linear", "gaussian process"}
    effects = next(f for f in tables if "effect of log(weight)" in f.columns)
    assert set(effects["source"]) == {"chat", "math"} and effects["95% CI"].str.startswith("[").all()
    checks = next(f for f in tables if {"against", "verdict"} <= set(f.columns))
    assert set(checks["against"]) <= {"natural", "best"} and "natural" in set(checks["against"])
    mixtures = next(f for f in tables if "observed" in f.columns)
    assert len(mixtures) == 4 and any(c.endswith("(held out)") for c in mixtures.columns)
    assert at.get("image"), "the figure (predicted vs observed, effects, proposal vs natural) is drawn"


@pytest.mark.xdist_group("credit")
def test_shapley_page_shows_values_and_the_interaction_matrix(monkeypatch, credit_home):
    at = open_app(monkeypatch, credit_home.home, "Shapley", ablation="credit")
    assert "Shapley credit: shapley" in texts(at)
    tables = frames(at)
    values = next(f for f in tables if "value [95% CI], p adj" in f.columns)
    assert set(values["step"]) == {"exact_dedup", "score_cut"}
    matrix = next(f for f in tables if {"step", "exact_dedup", "score_cut"} <= set(f.columns))
    cell = matrix[matrix["step"] == "exact_dedup"]["score_cut"].iloc[0]
    assert cell[0] in "+-" and matrix[matrix["step"] == "exact_dedup"]["exact_dedup"].iloc[0] == ""
    assert len(at.get("image")) >= 2, "the values and the interaction matrix are drawn"


@pytest.mark.xdist_group("credit")
def test_credit_pages_in_chromium(credit_home, tmp_path):
    browser = chromium()
    if browser is None:
        pytest.skip("chromium is not installed")
    keep = os.environ.get("WORKBENCH_SCREENSHOTS")  # a folder to keep the screenshots in
    with served_app(APP, credit_home.home, tmp_path / "streamlit.log") as url:
        for page, words in (("Mixture", ("Mixture search: mix", "validation:", "proposal", "natural", "effects")),
                            ("Shapley", ("Shapley credit: shapley", "exact_dedup", "score_cut", "pairwise interactions"))):
            shot = tmp_path / f"{page.lower()}.png"
            seen = render(browser, f"{url}?page={page}&ablation=credit", words, tmp_path / f"chromium-{page}", shot)
            assert not seen.missing, (seen.missing, seen.text[-2000:])
            assert shot.exists() and shot.stat().st_size > 10_000
            if keep:
                shutil.copy(shot, os.path.join(keep, shot.name))
