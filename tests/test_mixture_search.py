"""Mixture search (issue 25): the design covers the constrained simplex (natural and corners in), the
log-linear fit recovers planted coefficients, the proposal lands near a known optimum, and the report
rows (fit, proposal, validation through the engine) on synthetic scores. No training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from workbench.ablate.mixsearch import (EPS, GP, LogLinear, Quadratic, SearchError, bounds, cv_rmse, design,
                                        propose)

NAMES = ["math", "chat", "code"]
AVAIL = {"math": 3000.0, "chat": 5000.0, "code": 2000.0}


def test_bounds_apply_the_repetition_cap_and_refuse_what_no_mixture_meets():
    lo, hi = bounds(NAMES, AVAIL, 4000, min_weight={"code": 0.1}, max_weight=0.8)
    assert lo.tolist() == [0.0, 0.0, 0.1] and hi.tolist() == pytest.approx([0.75, 0.8, 0.5])
    with pytest.raises(SearchError, match="needs more tokens than the sources have"):
        bounds(NAMES, AVAIL, 20000)
    with pytest.raises(SearchError, match=r"source 'code': min_weight 0.600 cannot be met: its 2000 tokens"):
        bounds(NAMES, AVAIL, 4000, min_weight={"code": 0.6})
    with pytest.raises(SearchError, match="unknown source"):
        bounds(NAMES, AVAIL, 4000, min_weight={"poetry": 0.1})


def test_design_has_natural_corners_and_fills_the_feasible_simplex():
    lo, hi = bounds(NAMES, AVAIL, 4000, min_weight=0.05)
    pts = design(NAMES, AVAIL, lo, hi, 12, seed=3)
    labels = [label for label, _ in pts]
    assert labels[:4] == ["natural", "corner-math", "corner-chat", "corner-code"] and len(pts) == 12
    w = np.array([x for _, x in pts])
    assert np.allclose(w.sum(axis=1), 1, atol=1e-3) and (w >= lo - 1e-4).all() and (w <= hi + 1e-4).all()
    assert np.allclose(w[0], [0.3, 0.5, 0.2], atol=1e-3)  # natural: proportional to tokens
    assert w[1][0] == pytest.approx(hi[0], abs=1e-3)  # math's corner: math as high as it can go
    # space-filling: the sampled points are further apart than random draws would be, on average
    d = np.sqrt(((w[:, None] - w[None]) ** 2).sum(-1)) + np.eye(len(w)) * 9
    assert d.min() > 0.05
    assert [label for label, _ in design(NAMES, AVAIL, lo, hi, 12, seed=3)] == labels  # deterministic


def _surface(w, b=(0.30, 0.10, 0.05)):
    return 1.0 + np.log(np.asarray(w) + EPS) @ np.array(b)


def test_log_linear_recovers_planted_coefficients():
    rng = np.random.default_rng(0)
    w = rng.dirichlet(np.ones(3), size=40)
    y = _surface(w) + rng.normal(0, 0.005, len(w))
    fit = LogLinear().fit(w, y)
    assert fit.coef == pytest.approx([1.0, 0.30, 0.10, 0.05], abs=0.01)
    for (c, lo, hi), true in zip(fit.effects(), (0.30, 0.10, 0.05)):
        assert lo <= true <= hi and lo < c < hi
    err, _ = cv_rmse(LogLinear, w, y)
    assert err < 0.01
    assert cv_rmse(Quadratic, w, y)[0] < 0.05
    assert cv_rmse(GP, w[:12], y[:12])[0] < 0.1  # the nonlinear model: looser, from 12 mixtures


def test_proposal_lands_near_the_true_optimum_in_most_worlds():
    """Simulated worlds: K = 16 mixtures of a known surface + noise; the proposal's true score within
    delta of the best feasible true score. delta = 0.01 on a surface whose range over the design is ~0.5."""
    lo, hi = bounds(NAMES, AVAIL, 4000)
    from workbench.ablate.mixsearch import candidates

    grid = candidates(lo, hi, seed=99)
    hits = 0
    for world in range(10):
        rng = np.random.default_rng(world)
        b = rng.uniform(0.02, 0.3, 3)
        best = _surface(grid, b).max()
        pts = np.array([x for _, x in design(NAMES, AVAIL, lo, hi, 16, seed=world)])
        y = _surface(pts, b) + rng.normal(0, 0.005, len(pts))
        p = propose(LogLinear, pts, y, lo, hi, seed=world, n_boot=60)
        assert (p.weights >= lo - 1e-3).all() and (p.weights <= hi + 1e-3).all()
        assert p.lo <= p.predicted <= p.hi
        hits += best - _surface(p.weights[None], b)[0] <= 0.01
    assert hits >= 8, hits


def _spec(tmp_path, **extra):
    path = tmp_path / "blend.jsonl"
    rows = [{"instruction": f"Question {i}: " + "why " * (i % 4), "output": "Because " + "so " * (1 + i % 6),
             "source": ("math", "chat", "code")[i % 3]} for i in range(60)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = {"name": "ms", "seeds": [0, 1, 2], "eval": {"suites": ["arith_choice"]},
            "strategies": [{"mixture_search": {"source": str(path), "budget": 300, "k": 8, **extra}}]}
    p = tmp_path / "ms.yaml"
    p.write_text(yaml.safe_dump(spec, sort_keys=False))
    from workbench.ablate.spec import load_spec

    return load_spec(p)


def _scores(spec, rng, bonus=None):
    """Per-item, per-seed scores from the log-linear surface of each variant's weights (+ `bonus` for the
    proposal), with item, seed and residual noise."""
    from workbench.report.mixture import searches

    g = searches(spec.model_dump(mode="json"))["mix"]
    item = rng.normal(0, 0.2, 40)
    out = {}
    for name, w in [(v, w) for v, _, w in g["mixtures"]] + ([g["proposal"]] if g["proposal"] else []):
        mean = _surface([w])[0] + (bonus if bonus is not None and name == "mix.proposal" else 0.0)
        out[name] = {"arith_choice": {str(s): {f"i{i}": {"acc": float(mean + item[i] + off + rng.normal(0, 0.02))}
                                               for i in range(40)}
                                      for s, off in enumerate(rng.normal(0, 0.005, 3))}}
    return out


def test_report_rows_propose_and_say_whether_the_proposal_was_validated(tmp_path):
    from workbench.report.mixture import mixture_rows

    spec = _spec(tmp_path)
    rng = np.random.default_rng(5)
    rows = mixture_rows(spec.model_dump(mode="json"), _scores(spec, rng), {"arith_choice": ["acc"]},
                        {("arith_choice", "acc"): True})
    (r,) = rows
    assert r.kind == "mixture" and len(r.observed) == 8 and {f["model"] for f in r.fits} == {"log-linear",
                                                                                            "gaussian process"}
    assert r.validation["status"] == "not validated yet" and "validate: {" in r.reading
    assert r.proposal["lo"] <= r.proposal["predicted"] <= r.proposal["hi"]
    assert [e["coef"] for e in r.effects] == pytest.approx([0.30, 0.10, 0.05], abs=0.05)  # chat, code, math
    json.dumps(r.to_dict())
    # the second round: the proposal trained; planted 0.2 better than its surface value -> it beats both
    spec = _spec(tmp_path, validate=r.proposal["weights"])
    (r2,) = mixture_rows(spec.model_dump(mode="json"), _scores(spec, rng, bonus=0.2), {"arith_choice": ["acc"]},
                         {("arith_choice", "acc"): True})
    assert r2.validation["status"] == "beat" and r2.validation["vs_natural"]["paired_seeds"]
    assert "Validated mixture" in r2.reading and ": beat" in r2.reading
    (r3,) = mixture_rows(spec.model_dump(mode="json"), _scores(spec, rng, bonus=-0.5), {"arith_choice": ["acc"]},
                         {("arith_choice", "acc"): True})
    assert r3.validation["status"] == "lost"


def test_fixed_gp_is_scikit_learns_posterior_mean_with_the_fitted_hyper_parameters():
    from sklearn.gaussian_process import GaussianProcessRegressor

    from workbench.ablate.mixsearch import _logx

    rng = np.random.default_rng(2)
    w, w2 = rng.dirichlet(np.ones(3), size=14), rng.dirichlet(np.ones(3), size=9)
    y = _surface(w) + rng.normal(0, 0.01, len(w))
    full = GP().fit(w, y)
    mine = full.refit()().fit(w2, y[:9])
    ref = GaussianProcessRegressor(full.model.kernel_, normalize_y=True, optimizer=None).fit(_logx(w2), y[:9])
    assert np.allclose(mine.predict(w), ref.predict(_logx(w)), atol=1e-10)


# --- a real run: kill -9 mid-way, resume, the JSON rows, the validation round ----------------------


@pytest.mark.xdist_group("credit")
def test_mixture_search_killed_mid_run_resumes_reports_json_rows_and_validates(tmp_path_factory, tiny_model_dir):
    """Two record sources, K = 4 mixtures on the tiny model (1 step, 2 likelihood items), beside a two-step
    shapley in one ablation: kill -9 after the first training, resume without redoing it
    (strategies_helpers.credit_ablation); `report --json` carries the `kind: mixture` rows with a
    proposal; then the proposal as `validate:` trains only it, and the rows say how it did."""
    from tests.strategies_helpers import credit_ablation
    from workbench.report import report_data

    made = credit_ablation(tmp_path_factory, tiny_model_dir)
    ws = made["ws"]
    done, after = made["killed"]
    assert any(t["kind"] == "train" and t["variant"].startswith("mix.") for t in after)
    rows = [r for r in made["first_rows"] if r.get("kind") == "mixture"]
    assert rows and {r["group"] for r in rows} == {"mix"}
    fitted = [r for r in rows if r["proposal"]]
    assert fitted, rows
    r = fitted[0]
    assert len(r["observed"]) == 4 and {f["model"] for f in r["fits"]} == {"log-linear", "gaussian process"}
    assert r["validation"]["status"] == "not validated yet"

    second = made["second_stdout"]
    assert "3 steps run now" in second, second  # the proposal's build, training and eval only
    rep = report_data(ws, "credit")
    (v,) = [x for x in rep.credit if x.kind == "mixture" and (x.suite, x.metric) == (r["suite"], r["metric"])]
    assert v.validation["variant"] == "mix.proposal" and v.validation.get("vs_natural")
    assert v.validation["status"] in ("beat", "lost", "equal within noise",
                                      "beat the natural mixture, equal to the best within noise")
    assert v.validation["status"] in v.reading
