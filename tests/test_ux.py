"""The curator's first hour: a quiet console, per-kind ETA, `ablate new`, `--dry-run`, `doctor`."""

from __future__ import annotations

import re
import pytest
import yaml

from tests.ablate_helpers import filled_workspace, tiny_spec, write_data
from tests.conftest import REPO, run_cli, run_cli_here

# A quickstart run's recorded task times (s), from its catalog's ablation_tasks, 2026-12-01 on the
# 2-core machine while other test suites ran (load average 9-12): the first training was slowed
# by a burst of load to 5x its siblings.
QUICKSTART_RECORDED = {
    "build no-reasoning": 1.2, "build curated": 0.8, "eval base (untrained)": 144.4,
    "train no-reasoning seed 0": 735.7, "eval no-reasoning seed 0": 195.8,
    "train no-reasoning seed 1": 131.2, "eval no-reasoning seed 1": 144.6,
    "train curated seed 0": 138.7, "eval curated seed 0": 207.4,
}


@pytest.fixture
def quickstart_plan(tmp_path):
    from workbench.ablate.estimate import plan
    from workbench.ablate.spec import load_spec
    from workbench.core.workspace import Workspace

    return plan(Workspace(tmp_path / "home"), load_spec(REPO / "examples" / "quickstart.yaml"))


def test_quickstart_plan_prices_each_task_from_its_work(quickstart_plan):
    labels = [p.label for p in quickstart_plan]
    assert labels == list(QUICKSTART_RECORDED)  # the runner's order
    assert [p.state for p in quickstart_plan[:3]] == ["to run"] * 3
    assert all(p.state == "waits" for p in quickstart_plan[3:])  # ids wait on the builds
    prior = {p.label: p.work.prior_s for p in quickstart_plan}
    assert prior["build curated"] < 5 < prior["eval base (untrained)"]
    # 12 steps x 6 examples: ~6k tokens at ~70 tokens/s, plus loading and sanity generations
    assert 60 < prior["train curated seed 0"] < 200
    total = sum(prior.values())
    assert 0.5 * 734 < total < 1.5 * 734  # the clean-clone quickstart took 12m14s (DESIGN.md)


def test_estimate_is_per_kind_on_recorded_durations(quickstart_plan):
    from workbench.ablate.estimate import replay

    recorded = [(p.work, QUICKSTART_RECORDED[p.label]) for p in quickstart_plan]
    points = replay(recorded)
    start, after_builds = points[0], points[2]
    assert after_builds.estimate_s == pytest.approx(start.estimate_s, rel=0.01)  # builds say nothing of the model tasks
    base_eval = points[3]
    evals = [w for w, _ in recorded[3:] if w.kind == "eval"]
    trains = [w for w, _ in recorded[3:] if w.kind == "train"]
    factor = (1 + 144.4 / recorded[2][0].prior_s) / 2  # one finished eval: half way from the prior to it
    # before any training, both kinds take the machine's speed from the eval that finished
    assert base_eval.estimate_s == pytest.approx(factor * sum(w.prior_s for w in evals + trains), rel=1e-6)
    after_train = points[4]  # the slow training moves the trainings' estimate, not the evals'
    rest_evals = [w for w, _ in recorded[4:] if w.kind == "eval"]
    rest_trains = [w for w, _ in recorded[4:] if w.kind == "train"]
    assert after_train.estimate_s == pytest.approx(
        factor * sum(w.prior_s for w in rest_evals) + (1 + 735.7 / trains[0].prior_s) / 2 * sum(w.prior_s for w in rest_trains),
        rel=1e-6)
    assert points[-2].error < 0.35 and points[-1].actual_s == 0


def test_built_data_reprices_its_trainings_before_they_start(tmp_path):
    """The plan prices a training from the size of its source files; once the variant is built,
    its trainings are priced from the built rows' tokens (what the task will cost when it starts)."""
    from workbench.ablate.estimate import plan, prior_seconds
    from workbench.ablate.executors import LocalExecutor
    from workbench.ablate.runner import Runner
    from workbench.ablate.spec import load_spec
    from workbench.core.workspace import Workspace

    ws, spec = Workspace(tmp_path / "home"), load_spec(REPO / "examples" / "quickstart.yaml")
    planned = {p.key: p.work.prior_s for p in plan(ws, spec)}
    seen = {}

    class BuildsOnly(LocalExecutor):  # real builds; the first model task stops the run
        def run(self, ws_, task):
            if task.kind != "build":
                seen.update({k: p.work.prior_s for k, p in runner.plan.items() if k[0] == "train"})
                raise KeyboardInterrupt
            return super().run(ws_, task)

    runner = Runner(ws, spec, executor=BuildsOnly())
    with pytest.raises(KeyboardInterrupt):
        runner.run()
    from workbench.ablate.tasks import resolved_train_config, train_task, variant_train_config

    cat = ws.catalog(reader=True)
    for key, prior in seen.items():
        task = next(t for t in cat.ablation_tasks(spec.name) if t["kind"] == "build" and t["variant"] == key[1])
        config = variant_train_config(spec, spec.variant(key[1]), resolved_train_config(spec))
        inputs = train_task(spec, key[1], task["output"]["version"], key[2], config).inputs.to_dict()
        assert prior == pytest.approx(prior_seconds("train", inputs, cat))
        assert prior != pytest.approx(planned[key])  # the source bytes' guess was replaced
    assert len(seen) == 3


def test_running_task_refines_with_its_own_progress():
    from workbench.ablate.estimate import Estimator, Work

    est = Estimator()
    w = Work("train", "t", 100.0)
    assert est.left([], w, elapsed=30) == pytest.approx(70)
    assert est.left([], w, elapsed=30, fraction=0.5) == pytest.approx(30)  # its steps say: as long again
    assert est.left([], w, elapsed=150) == pytest.approx(10)  # late: never "0 left" while it runs


def test_ablate_new_writes_a_commented_spec_that_runs_dry(tmp_path, ws):
    paths = write_data(tmp_path / "data")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("steps:\n  - step: exact_dedup\n")
    out = tmp_path / "specs" / "mine.yaml"
    proc = run_cli_here("ablate", "new", "mine", "--data", str(paths["all"]), "--data", str(paths["math"]),
                        "--recipe", str(recipe), "--suites", "think_follow", "--out", str(out))
    assert "--dry-run" in proc.stdout
    text = out.read_text()
    spec = yaml.safe_load(text)
    assert [v["name"] for v in spec["variants"]] == ["all", "math", "curated"]
    assert spec["baseline"] == "all" and spec["control"] == {"variant": "all", "seeds": [0, 1]}
    assert spec["train"]["max_steps"] == 12 and spec["eval"]["suites"] == ["think_follow"]  # CPU: quickstart sizes
    assert spec["variants"][2]["recipe"] == "../recipe.yaml"  # relative to the spec's folder
    for line in text.splitlines():  # every key explained
        if re.match(r"^\s*[a-z_]+:", line):
            assert "#" in line, line
    from workbench.ablate.scaffold import write_spec
    from workbench.ablate.spec import SpecError

    with pytest.raises(SpecError, match="--force"):  # (the CLI shows a SpecError as one line, exit 2)
        write_spec(out, "mine", [str(paths["all"])])
    with pytest.raises(SpecError, match="nope.jsonl does not exist"):
        write_spec(tmp_path / "x.yaml", "x", [str(tmp_path / "nope.jsonl")])
    assert not (tmp_path / "x.yaml").exists()

    dry = run_cli_here("ablate", str(out), "--dry-run")
    assert "12 to run, 0 already in the catalog" in dry.stdout and "estimate ~" in dry.stdout
    assert "train curated seed 0" in dry.stdout
    assert not ws.catalog().ablation_tasks("mine")  # nothing ran


def test_dry_run_shows_what_is_cached(tmp_path_factory, tiny_model_dir, tmp_path, monkeypatch):
    home = filled_workspace(tmp_path_factory, tiny_model_dir).home
    spec = tiny_spec(tmp_path, tiny_model_dir)  # the same content elsewhere: the same task ids
    proc = run_cli_here("ablate", str(spec), "--dry-run", env={"WORKBENCH_HOME": str(home)})
    assert "0 to run, 7 already in the catalog" in proc.stdout
    assert proc.stdout.count("cached") == 7


def test_console_shows_only_workbench_lines_and_logs_the_rest(tmp_path, ws, tiny_model_dir):
    """A real (tiny) ablation through the CLI, not on a terminal: one line per finished task, the
    summary and nothing else; the libraries' output is in a log per task."""
    spec = tiny_spec(tmp_path, tiny_model_dir, name="quiet", suites=["think_follow"], max_steps=1)
    data = yaml.safe_load(spec.read_text())
    data["variants"] = data["variants"][1:]  # one variant: build, base eval, train, eval
    data["eval"]["limit"] = 2
    spec.write_text(yaml.safe_dump(data))
    proc = run_cli("ablate", str(spec), "--no-report", env={"WORKBENCH_PROGRESS": "auto"})
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    progress = [ln for ln in lines if re.match(r"^\[\d/4\] (build|train|eval) .*: done in \d+", ln)]
    assert len(progress) == 4, lines
    noise = re.compile(r"warn|deprecat|it/s|%\||Loading|fatal|Traceback|generate_until|torch_dtype", re.I)
    assert not [ln for ln in lines if noise.search(ln)], lines
    # the rest is workbench's summary: the totals, the score table and its sentences
    assert sum(ln.startswith("ablation quiet:") for ln in lines) == 1
    logs = sorted((ws.home / "logs" / "quiet").glob("*.log"))
    assert len(logs) == 4
    eval_log = next(p.read_text() for p in logs if p.name.startswith("eval-"))
    assert "generate_until" in eval_log  # lm-eval's bars went to the log, not away
    assert "not a git repository" not in eval_log


def test_train_config_passes_report_to_and_keeps_run_ids(tmp_path):
    from workbench.train.config import TrainConfig, TrainError

    default = TrainConfig()
    assert "report_to" not in default.resolved()  # default runs keep their ids
    assert default.trl_report_to(tmp_path) == []
    tb = TrainConfig(report_to="tensorboard")
    assert tb.resolved()["report_to"] == "tensorboard"
    assert tb.trl_report_to(tmp_path / "run") == ["tensorboard"]
    import os

    assert os.environ["TENSORBOARD_LOGGING_DIR"] == str(tmp_path / "run" / "tensorboard")
    bad = tmp_path / "train.yaml"
    bad.write_text("max_steps: 2\nreport_to: [wandb, tensorbord]\n")
    with pytest.raises(TrainError, match=r"report_to.*tensorbord"):
        TrainConfig.load(bad)


def test_doctor_reports_each_check_and_a_fix(tmp_path, ws):
    from workbench.core.catalog import Catalog
    from workbench.ops.doctor import check_workspace, run_checks

    names = [c.name for c in run_checks(ws.home)]
    for expected in ("torch", "model smollm2-135m-instruct", "NLTK punkt_tab", "chromium", "disk", "memory", "workspace"):
        assert expected in names
    proc = run_cli_here("doctor", check=False)
    assert "workspace" in proc.stdout and proc.returncode in (0, 1)
    assert ("ready" in proc.stdout) == (proc.returncode == 0)

    cat = Catalog(ws.catalog_path)
    cat.migrate()
    with cat.connect() as con:
        con.execute("INSERT INTO schema_migrations VALUES (999, now())")
    check = check_workspace(ws.home)
    assert not check.ok and "newer than this workbench" in check.detail and "upgrade" in check.fix


def test_task_board_prints_one_line_per_task_off_a_terminal(tmp_path):
    from workbench.core.progress import TaskBoard, read_report, report, task_output

    seen: list[str] = []
    board = TaskBoard(interactive=False, print_line=seen.append)
    board.begin("[1/1] x", tmp_path / "p.json", lambda f, e: 1.0)
    log = tmp_path / "task.log"
    with task_output(log, tmp_path / "p.json"):
        import os
        import sys

        print("library chatter")
        os.write(2, b"raw fd 2 chatter\n")
        sys.stderr.write("a warning\n")
        report(3, 3, "steps")
    board.end("[1/1] x: done in 1s")
    assert seen == ["[1/1] x: done in 1s"]
    assert log.read_text().splitlines() == ["library chatter", "raw fd 2 chatter", "a warning"]
    assert read_report(tmp_path / "p.json") == {"done": 3, "total": 3, "unit": "steps"}


def test_data_export_writes_a_card_that_datasets_reads(tmp_path_factory, tiny_model_dir, tmp_path):
    import datasets

    home = filled_workspace(tmp_path_factory, tiny_model_dir).home
    from workbench.core.workspace import Workspace

    cat = Workspace(home).catalog(reader=True)
    build = next(t for t in cat.ablation_tasks("tiny") if t["kind"] == "build" and t["variant"] == "all")
    version = build["output"]["version"]
    out = tmp_path / "handover" / "data.jsonl"
    proc = run_cli_here("data", "export", version, str(out), env={"WORKBENCH_HOME": str(home)})
    card = out.parent / "README.md"
    assert str(card) in proc.stdout
    text = card.read_text()
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["configs"][0]["data_files"][0]["path"] == "data.jsonl"
    for section in ("## Composition", "## Lineage", "## Removals by reason", "## Verdicts of ablations that used it"):
        assert section in text
    assert "exact_dedup" in text  # the two repeated rows removed on the way
    assert "ablation `tiny`, variant `all`" in text
    ds = datasets.load_dataset(str(out.parent))
    assert ds["train"].num_rows == cat.resolve_version(version)["n_rows"]
    assert ds["train"][0]["messages"][0]["role"] in ("system", "user")

    foreign = tmp_path / "theirs"
    foreign.mkdir()
    (foreign / "README.md").write_text("# my own notes\n")
    from workbench.data.card import CardError, card_target

    with pytest.raises(CardError, match="not written by workbench"):  # checked before the export writes anything
        card_target(foreign / "d.jsonl")
    assert (foreign / "README.md").read_text() == "# my own notes\n"
