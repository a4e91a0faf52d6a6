"""Reports from a real (tiny) ablation: numbers match the stored per-item scores, the HTML is
self-contained, and the CLI writes both files."""

from __future__ import annotations

import re

import pytest

from tests.ablate_helpers import filled_workspace
from tests.conftest import run_cli
from workbench.report import headline, item_table, render_html, render_markdown, report_data


@pytest.fixture(scope="module")
def filled(tmp_path_factory, tiny_model_dir):
    return filled_workspace(tmp_path_factory, tiny_model_dir)


def test_scores_and_deltas_match_the_stored_items(filled):
    data = report_data(filled, "tiny")
    items = item_table(filled, "tiny")
    assert {v["name"] for v in data.variants} == {"all", "math"}
    assert all(v["status"] == "done" and v["version"] for v in data.variants)
    rows = headline(data)
    assert {(r["variant"], r["suite"]) for r in rows} == {(v, s) for v in ("base", "all", "math") for s in data.suites}
    for r in rows:
        vals = [d["scores"][r["metric"]] for d in items[r["variant"]][r["suite"]].values()]
        assert r["n"] == len(vals) and r["score"] == pytest.approx(sum(vals) / len(vals))
        assert r["lo"] - 1e-9 <= r["score"] <= r["hi"] + 1e-9
        if r["variant"] != "base":
            base = items["base"][r["suite"]]
            mine = items[r["variant"]][r["suite"]]
            expected = sum(mine[k]["scores"][r["metric"]] - base[k]["scores"][r["metric"]] for k in mine) / len(mine)
            assert r["delta"] == pytest.approx(expected)
            assert r["d_lo"] - 1e-9 <= r["delta"] <= r["d_hi"] + 1e-9
            assert r["significant"] == (r["d_lo"] > 0 or r["d_hi"] < 0)
    # one pairwise comparison per suite and metric between the two variants
    assert {(p["a"], p["b"]) for p in data.pairwise} == {("all", "math")}
    assert len(data.runs) == 2 and all(r["loss"] for r in data.runs)


def test_html_is_self_contained_and_has_every_section(filled):
    data = report_data(filled, "tiny")
    page = render_html(data)
    assert not re.search(r"""(src|href)=["']https?://""", page), "no external resources"
    assert page.count("<svg") >= 2 and "data:image/png;base64," in page
    for title in ("Summary", "Between variants", "Training runs", "Data per variant", "Items where variants disagree"):
        assert f"<h2>{title}</h2>" in page
    md = render_markdown(data)
    assert "| variant | suite | metric |" in md and "**all**" in md and "**math**" in md


def test_cli_writes_both_files_and_rejects_an_unknown_ablation(filled, tmp_path):
    env = {"WORKBENCH_HOME": str(filled.home)}
    proc = run_cli("report", "tiny", env=env, cwd=tmp_path)
    assert "report.html" in proc.stdout
    html = (tmp_path / "reports" / "tiny" / "report.html").read_text()
    assert "<b>all</b>" in html and "<b>math</b>" in html
    assert (tmp_path / "reports" / "tiny" / "report.md").exists()
    bad = run_cli("report", "nope", env=env, cwd=tmp_path, check=False)
    assert bad.returncode == 2 and "no ablation 'nope'" in bad.stderr and "tiny" in bad.stderr
