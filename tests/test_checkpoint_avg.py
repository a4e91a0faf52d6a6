"""Checkpoint averaging: a run trained with keep_adapters K keeps K-1 earlier adapters; an eval
averages likelihood metrics over them per item (real training and eval on a tiny model)."""

from __future__ import annotations

import pytest

from tests.conftest import manual_bpb
from workbench.data.records import make_record
from workbench.data.store import save_version
from workbench.evals.checkpoints import CheckpointError
from workbench.evals.likelihood import BPB
from workbench.evals.runner import EvalError, evaluate
from workbench.train import TrainConfig, train
from workbench.train.sft import kept_steps

TRAIN = {"max_steps": 6, "batch_size": 4, "sanity_prompts": 0, "lr": 5e-3}
EVAL = {"limit": 3, "max_gen_toks": 6, "batch_size": 4, "progress": False}


def _version(ws):
    recs = [make_record([{"role": "user", "content": f"Add {i} and {i}."},
                         {"role": "assistant", "content": f"{i} and {i} make {2 * i}."}]) for i in range(16)]
    return save_version(ws, recs, "toy", "ingest").id


def test_run_ids_unchanged_when_off_and_kept_steps():
    assert "keep_adapters" not in TrainConfig().resolved()
    assert TrainConfig(keep_adapters=1).resolved() == TrainConfig().resolved()
    assert TrainConfig(keep_adapters=3).resolved()["keep_adapters"] == 3
    assert kept_steps(12, 3) == [8, 10] and kept_steps(40, 4) == [25, 30, 35] and kept_steps(6, 3) == [4, 5]
    with pytest.raises(ValueError, match="keep_adapters"):
        TrainConfig(method="dpo", keep_adapters=2)


def test_eval_averages_likelihood_metrics_over_kept_adapters(ws, tiny_model_dir):
    from workbench.evals.suites import select

    version = _version(ws)
    plain = train(ws, version, str(tiny_model_dir), TRAIN, progress=False)
    run = train(ws, version, str(tiny_model_dir), {**TRAIN, "keep_adapters": 3}, progress=False)
    assert run.id != plain.id
    kept = ws.catalog().get_run(run.id)["meta"]["kept_adapters"]
    assert [k["step"] for k in kept] == [4, 5]
    assert all((run.run_dir / "adapters" / f"step-{s}" / "adapter_config.json").is_file() for s in (4, 5))
    assert not (plain.run_dir / "adapters").exists() and "kept_adapters" not in ws.catalog().get_run(plain.id)["meta"]

    suites = "think_follow,gsm_style_bpb"
    final = {r.suite: r for r in evaluate(ws, run.id, suites, checkpoints=1, **EVAL)}
    avg = {r.suite: r for r in evaluate(ws, run.id, suites, **EVAL)}  # default: every kept adapter
    cat = ws.catalog()
    for name in ("think_follow", "gsm_style_bpb"):
        assert avg[name].result_id != final[name].result_id
        assert avg[name].settings["checkpoints"]["k"] == 3 and "checkpoints" not in final[name].settings
        items_f = {it["item_id"]: it for it in cat.result_samples(final[name].result_id)}
        items_a = {it["item_id"]: it for it in cat.result_samples(avg[name].result_id)}
        assert items_f.keys() == items_a.keys()
        assert avg[name].metrics[BPB] == pytest.approx(sum(it["scores"][BPB] for it in items_a.values()) / 3)
        assert any(abs(items_a[i]["scores"][BPB] - items_f[i]["scores"][BPB]) > 1e-6 for i in items_f)
    # generation metrics stay the final adapter's
    assert avg["think_follow"].metrics["pass"] == final["think_follow"].metrics["pass"]
    for i, it in items_f.items():
        assert items_a[i]["response"] == it["response"]

    # one item by hand: the mean of its bits per byte under the three adapters
    (suite,) = select("gsm_style_bpb", "smoke")
    ref = {r["id"]: r["answer"] for r in suite.rows("smoke")}
    item = cat.result_samples(avg["gsm_style_bpb"].result_id)[0]
    dirs = [run.run_dir / "adapters" / "step-4", run.run_dir / "adapters" / "step-5", run.adapter_dir]
    want = sum(manual_bpb(tiny_model_dir, item["prompt"], ref[item["item_id"]], adapter_dir=d) for d in dirs) / 3
    assert item["scores"][BPB] == pytest.approx(want, rel=2e-3)

    again = evaluate(ws, run.id, suites, **EVAL)
    assert all(r.cached for r in again) and [r.result_id for r in again] == [avg[s].result_id for s in avg]
    with pytest.raises(CheckpointError, match="kept 3 adapter"):
        evaluate(ws, run.id, "gsm_style_bpb", checkpoints=4, **EVAL)
    with pytest.raises(EvalError, match="not a training run"):
        evaluate(ws, str(tiny_model_dir), "gsm_style_bpb", checkpoints=2, **EVAL)
