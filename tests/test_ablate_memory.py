"""Train tasks of an ablation within a memory budget (workbench/ablate/memory.py): the split rule
keeps the effective batch and fits, refuses by key when nothing fits, and `ablate --dry-run`
shows each train task's planned peak and the micro-batch a small --memory-budget gives it.
Nothing trains here: the plans only (the tiny model, the tiny spec)."""

from __future__ import annotations

import re

import pytest

from workbench.ablate.memory import BUDGET_ENV, fit, fit_config, parse_size, planned_peak, split
from workbench.ablate.spec import SpecError
from workbench.train.plan import HEADROOM


def linear_peak(b: int) -> float:  # MiB: 1,000 fixed + 500 per example
    return 1000.0 + 500.0 * b


def test_a_config_that_fits_is_kept_as_written():
    assert split(6, 1, linear_peak, budget=10_000) == (6, 1, 4000.0)
    assert split(4, 3, linear_peak, budget=linear_peak(4) / HEADROOM) == (4, 3, 3000.0)  # at the limit: fits


@pytest.mark.parametrize("batch, accum, budget, expect", [
    (6, 1, 3000 / HEADROOM, (3, 2)),  # 6 does not fit; 5 and 4 do not divide 6; 3 plans 2,500 MiB
    (6, 1, 2100 / HEADROOM, (2, 3)),
    (4, 3, 2900 / HEADROOM, (3, 4)),  # effective 12: 4 plans 3,000 MiB, 3 plans 2,500
    (12, 1, 2600 / HEADROOM, (3, 4)),  # 12, 6 and 4 over; 11-7 and 5 do not divide 12
    (8, 1, 1600 / HEADROOM, (1, 8)),
])
def test_a_split_keeps_the_effective_batch_and_fits(batch, accum, budget, expect):
    assert linear_peak(batch) > HEADROOM * budget  # the config as written does not fit
    b, ga, peak = split(batch, accum, linear_peak, budget)
    assert (b, ga) == expect
    assert b * ga == batch * accum
    assert peak == linear_peak(b) <= HEADROOM * budget


def test_a_split_skips_micro_batches_the_config_refuses():
    # 4 plans 3,000 MiB (over), 3 fits but is refused (e.g. grpo's whole groups of 2), 2 fits
    b, ga, _ = split(6, 2, linear_peak, 2700 / HEADROOM, valid=lambda b: b % 2 == 0)
    assert (b, ga) == (2, 6)


def test_nothing_fits_is_refused_naming_the_key():
    with pytest.raises(SpecError, match=r"train\.batch_size: does not fit the memory budget: even a micro-batch "
                                        r"of 1 plans a peak of 1,500 MiB"):
        split(6, 1, linear_peak, budget=1000)


def test_memory_sizes():
    assert parse_size("3GiB") == parse_size("3G") == parse_size("3072MiB") == 3072
    assert parse_size("512") == 512 and parse_size("1.5GiB") == 1536
    assert parse_size("1GB") == pytest.approx(10**9 / 2**20)
    for bad in ("", "3 parsecs", "-1GiB", "0", "GiB"):
        with pytest.raises(ValueError, match="not a memory size"):
            parse_size(bad)


def _built(ws, tiny_model_dir, tmp_path):
    """The tiny spec with its variants' data built and recorded (no training)."""
    from tests.ablate_helpers import tiny_spec
    from workbench.ablate import load_spec
    from workbench.ablate.executors import execute
    from workbench.ablate.tasks import build_task

    path = tiny_spec(tmp_path, tiny_model_dir)
    spec = load_spec(path)
    cat = ws.catalog()
    versions = {}
    for v in spec.variants:
        task = build_task(spec, v)
        out = execute(ws.home, task.to_dict(), ws)
        cat.task_started(spec.name, task.id, "build", v.name, None, task.label, task.inputs.to_dict())
        cat.task_done(spec.name, task.id, out, 0.1)
        versions[v.name] = out["version"]
    return path, spec, versions


def test_train_tasks_of_built_data_split_only_over_the_budget(ws, tiny_model_dir, tmp_path, monkeypatch, capsys):
    from workbench.ablate.tasks import resolved_train_config, train_task

    _, spec, versions = _built(ws, tiny_model_dir, tmp_path)
    config = resolved_train_config(spec).resolved()
    version = versions["all"]
    roomy = fit(ws, spec.base, version, config, budget=1e9)
    assert not roomy.changed and not roomy.bound and roomy.seq_len < config["max_length"]
    monkeypatch.delenv(BUDGET_ENV, raising=False)  # the default: what the machine has available
    same = train_task(spec, "all", version, 0, resolved_train_config(spec), ws=ws)
    assert same.inputs.config.resolved() == config
    assert same.id == train_task(spec, "all", version, 0, resolved_train_config(spec)).id

    peak2, peak4 = (planned_peak(ws, spec.base, version, config, b) for b in (2, 4))
    assert peak2 < peak4 == roomy.peak_mb
    monkeypatch.setenv(BUDGET_ENV, f"{(peak2 + peak4) / 2 / HEADROOM:.0f}MiB")
    split_task = train_task(spec, "all", version, 0, resolved_train_config(spec), ws=ws)
    split = split_task.inputs.config.resolved()
    assert {k: split[k] for k in ("batch_size", "grad_accum")} == {"batch_size": 2, "grad_accum": 2}
    assert {k: v for k, v in split.items() if k not in ("batch_size", "grad_accum")} == \
        {k: v for k, v in config.items() if k not in ("batch_size", "grad_accum")}
    assert split_task.id != same.id  # the config that trains is the task's (and the run's) config
    assert "micro-batch (batch_size x grad_accum) 4 x 1 -> 2 x 2, the same effective batch of 4" in capsys.readouterr().err

    monkeypatch.setenv(BUDGET_ENV, "1MiB")
    with pytest.raises(SpecError, match=r"train\.batch_size \(train all\): does not fit the memory budget"):
        fit_config(ws, spec.base, version, config, "train all")


def test_dry_run_shows_planned_peaks_and_the_split(ws, tiny_model_dir, tmp_path):
    from tests.ablate_helpers import tiny_spec
    from tests.conftest import run_cli_here
    from workbench.ablate import load_spec
    from workbench.ablate.tasks import resolved_train_config

    path = tiny_spec(tmp_path, tiny_model_dir)
    env = {"WORKBENCH_HOME": str(ws.home)}
    config = resolved_train_config(load_spec(path))
    # nothing built: planned from max_length, an upper bound. The runtime part is the RSS of the
    # process that plans (measured there), so the CLI's figures are this process's plus the
    # difference of the two processes' RSS: the same for every batch size.
    peak2, peak4 = (planned_peak(ws, str(tiny_model_dir), None, config, b) for b in (2, 4))
    proc = run_cli_here("ablate", str(path), "--dry-run", env=env)
    assert "planned peak" in proc.stdout and "max_length" in proc.stdout
    shown = re.findall(r"<= ([\d,]+) MiB \(max_length", proc.stdout)
    assert len(shown) == 2 and shown[0] == shown[1]  # train all, train math
    offset = float(shown[0].replace(",", "")) - peak4
    peak2, peak4 = peak2 + offset, peak4 + offset
    assert "->" not in proc.stdout  # the default budget (what is available) fits them as written

    budget = (peak2 + peak4) / 2 / HEADROOM
    proc = run_cli_here("ablate", str(path), "--dry-run", "--memory-budget", f"{budget:.0f}MiB", env=env)
    assert f"memory budget {budget:,.0f} MiB" in proc.stdout
    for name in ("all", "math"):
        said = re.search(rf"train {name}: planned peak ([\d,]+) MiB is over 85% of the {budget:,.0f} MiB memory "
                         r"budget: micro-batch \(batch_size x grad_accum\) 4 x 1 -> 2 x 2, the same effective batch "
                         r"of 4; planned peak ([\d,]+) MiB \(from max_length", proc.stdout)
        assert said, proc.stdout
        got4, got2 = (float(x.replace(",", "")) for x in said.groups())
        assert abs(got4 - peak4) <= 8 and abs(got2 - peak2) <= 8 and got2 < HEADROOM * budget < got4
    assert ws.catalog().list_ablations() == []  # a dry run: nothing recorded

    proc = run_cli_here("ablate", str(path), "--dry-run", "--memory-budget", "1MiB", env=env, check=False)
    assert proc.returncode != 0 and "train.batch_size (train all): does not fit the memory budget" in proc.stderr
    proc = run_cli_here("ablate", str(path), "--dry-run", "--memory-budget", "lots", env=env, check=False)
    assert proc.returncode == 2 and "not a memory size" in proc.stderr
