"""Validation curves: a real run with a held-out split stores eval loss at eval_steps; the report
draws it beside the smoothed training loss (per run and seed) and the app gets the same rows."""

from __future__ import annotations

import pytest

from tests.test_train import FAST, arithmetic_records
from workbench.data.store import save_version
from workbench.report import ReportData, render_html, smoothed, validation_curves, validation_figure
from workbench.report.gather import _curves
from workbench.train import train


def _data(runs):
    return ReportData(name="v", spec={}, suites=[], layer="smoke", variants=[], runs=runs, metrics={}, scores=[],
                      comparisons=[], disagreements=[], failures=[])


def test_smoothing_is_an_ema():
    assert smoothed([]) == []
    assert smoothed([4.0, 2.0, 2.0], alpha=0.5) == [4.0, 3.0, 2.5]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model_dir):
    from workbench.core.workspace import Workspace

    ws = Workspace(tmp_path_factory.mktemp("val") / "home")
    vid = save_version(ws, arithmetic_records(24), "toy", "ingest").id
    out = []
    for seed in (0, 1):
        r = train(ws, vid, str(tiny_model_dir), {**FAST, "eval_fraction": 0.25, "eval_steps": 2}, seed=seed, progress=False)
        out.append({"variant": "toy", "seed": seed, "run_id": r.id, "mode": r.mode, "wall_s": r.wall_s,
                    "tokens_per_s": r.tokens_per_s, **_curves(ws.catalog().run_steps(r.id))})
    return out


def test_eval_loss_is_recorded_and_drawn_per_run_and_seed(runs):
    for r in runs:
        assert [p["step"] for p in r["eval_loss"]] == [2, 4]  # at eval_steps, FAST trains 4 steps
        assert all(p["eval_loss"] > 0 for p in r["eval_loss"]) and len(r["loss"]) == 4
    rows = validation_curves(_data(runs))
    for seed in (0, 1):
        mine = [x for x in rows if x["run"] == f"toy seed {seed}"]
        train_rows = [x["loss"] for x in mine if x["series"] == "train (smoothed)"]
        assert train_rows == pytest.approx(smoothed([p["loss"] for p in runs[seed]["loss"]]))
        assert [x["loss"] for x in mine if x["series"] == "eval (held out)"] == [p["eval_loss"] for p in runs[seed]["eval_loss"]]
    fig = validation_figure(_data(runs))
    assert fig is not None and len(fig.axes[0].lines) == 4  # train + eval, two seeds
    assert "alt='validation loss'" in render_html(_data(runs))


def test_no_held_out_split_no_figure(runs):
    plain = [{**r, "eval_loss": []} for r in runs]
    assert validation_figure(_data(plain)) is None
    assert all(x["series"] == "train (smoothed)" for x in validation_curves(_data(plain)))
