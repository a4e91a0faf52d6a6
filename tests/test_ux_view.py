"""The view at a glance: the leaderboard grid, Compare's default, and report figures that fit 1280 px."""

from __future__ import annotations

import dataclasses
import re
import subprocess

import pytest

from tests.ablate_helpers import chromium, filled_workspace
from tests.test_app import open_app, texts

LONG = ["no-reasoning", "curated", "curated-think-mix-weighted-heavily", "dedup-only", "pii-scrubbed",
        "decontaminated-against-gsm", "synth-both-modes", "select-no-math", "random-removal-matched", "v10"]
SUITES = ["think_follow", "semsim", "gsm_style", "ifeval_style", "arith_choice", "a_long_suite_name_here"]


@pytest.fixture(scope="module")
def filled(tmp_path_factory, tiny_model_dir):
    return filled_workspace(tmp_path_factory, tiny_model_dir)


def big(filled):
    """The filled ablation's data widened to 10 variants x 6 suites (every number a real one, reused)."""
    from workbench.report import report_data

    data = report_data(filled, "tiny")
    score = data.scores[0]
    comp = next(c for c in data.comparisons if c.kind == "variant")
    scores, comps = [], []
    for i, v in enumerate(["base", *LONG]):
        for s in SUITES:
            scores.append({**score, "variant": v, "suite": s, "metric": "pass"})
            if v != "base":
                comps.append(dataclasses.replace(comp, a="base", b=v, suite=s, metric="pass", significant=i % 3 == 0,
                                                 verdict=["better", "worse", "noise"][i % 3]))
    return dataclasses.replace(data, suites=SUITES, metrics={s: ["pass"] for s in SUITES}, scores=scores,
                               comparisons=comps, variants=[{"name": v} for v in LONG], baseline="base")


def _inside(fig) -> list[str]:
    """The sides where what the figure draws (texts, ticks, panels) runs past its edges: cut off on the page."""
    fig.canvas.draw()
    tight = fig.get_tightbbox(fig.canvas.get_renderer())  # inches, every drawn artist
    w, h = fig.get_size_inches()
    eps = 0.02
    return [side for side, bad in (("left", tight.x0 < -eps), ("right", tight.x1 > w + eps),
                                   ("bottom", tight.y0 < -eps), ("top", tight.y1 > h + eps)) if bad]


def test_figures_fit_1280px_with_10_variants_and_6_suites(filled):
    from matplotlib.text import Text

    from workbench.report.figures import PAGE_WIDTH_IN, grid_figure, scores_figure

    data = big(filled)
    for make in (scores_figure, grid_figure):
        fig = make(data)
        width_px = fig.get_size_inches()[0] * 100
        assert width_px <= PAGE_WIDTH_IN * 100 <= 1280, make.__name__
        assert not _inside(fig), (make.__name__, _inside(fig))
        cells = [c.get_text() for ax in fig.axes for table in ax.tables for c in table.get_celld().values()]
        drawn = [t for t in [*fig.findobj(Text), *cells] if t.get_visible() and t.get_text()]
        labels = " ".join(t.get_text().replace("\n", "") for t in drawn)
        for v in LONG:  # every variant name whole (wrapped, never truncated)
            assert v in labels, (make.__name__, v)
        assert min(t.get_fontsize() for t in drawn) >= 7, make.__name__
    scores = scores_figure(data)
    assert len([ax for ax in scores.axes if ax.axison]) == 6 and scores.axes[3].get_position().y1 < scores.axes[0].get_position().y0


def test_report_html_fits_1280px_in_chromium(filled, tmp_path):
    browser = chromium()
    if browser is None:
        pytest.skip("chromium is not installed")
    from workbench.report import write_report

    html_path, _ = write_report(filled, "tiny", tmp_path / "report")
    page = html_path.read_text()
    assert "<h2>Leaderboard</h2>" in page
    probe = tmp_path / "probe.html"  # the report, plus a script that writes its layout into the DOM
    probe.write_text(page.replace("</body>", "<script>document.body.setAttribute('data-layout', JSON.stringify({"
                                  "scroll: document.documentElement.scrollWidth, widest: Math.max(...[...document"
                                  ".querySelectorAll('svg,img')].map(e => e.getBoundingClientRect().right))}));</script></body>"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={tmp_path / 'chromium'}",
             "--window-size=1280,1000"]
    dom = subprocess.run([browser, *flags, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'data-layout="\{&quot;scroll&quot;:(\d+),&quot;widest&quot;:([\d.]+)\}"', dom)
    assert m, dom[-1500:]
    scroll, widest = int(m.group(1)), float(m.group(2))
    assert scroll <= 1280 and widest <= 1280, (scroll, widest)
    shot = tmp_path / "report.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", html_path.as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000


def test_leaderboard_grid_colours_cells_by_verdict_and_marks_significance(monkeypatch, filled):
    from workbench.report.figures import SIGNIFICANT, VERDICT_COLOURS, grid_styler

    html = grid_styler(big(filled)).to_html()
    for colour in ("better", "worse", "noise"):
        assert f"background-color: {VERDICT_COLOURS[colour]}" in html
    assert SIGNIFICANT in html and "(significant)" not in html
    at = open_app(monkeypatch, filled.home)  # the app shows the same grid, no markdown bullets from `*`
    board = at.table[0].value
    assert list(board.columns)[0] == "variant" and "*" not in "".join(board.astype(str).values.ravel())
    assert SIGNIFICANT in texts(at)  # the caption says what the mark means


def test_compare_opens_on_all_disagreements_with_every_metric_side_by_side(monkeypatch, filled):
    at = open_app(monkeypatch, filled.home, "Compare runs")
    assert at.radio(key="show").value == "all disagreements"
    at.selectbox(key="run_b").set_value("math · seed 0").run()
    at.radio(key="show").set_value("all").run()
    assert not at.exception
    tables = [d.value for d in at.dataframe]
    per_item = [t for t in tables if list(t.columns) == ["metric", "A", "B", "B - A"]]
    assert per_item and len(per_item[0]) >= 2  # every metric of the item, not only the selected one
