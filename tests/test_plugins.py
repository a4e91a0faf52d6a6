"""Plug-ins from an installed package: a training method, a curation step, a record format and a
file reader, found through Python entry points by the real CLI and by a task's child process.

The package is "installed" the way pip leaves it: its code and a `*.dist-info` folder (METADATA,
entry_points.txt) on a path that PYTHONPATH adds for the subprocesses. Nothing in workbench
names it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

PLUGIN = {
    "wbdemo_plugin/__init__.py": "",
    # a method: the built-in SFT, with its own prepare (a marker in the run's data stats), fit (a
    # marker file in the run folder, naming the process that trained) and config section
    # (`sft_plugin:` in a train config, validated by its own model; part of the run id)
    "wbdemo_plugin/method.py": '''
        import os

        from pydantic import BaseModel, ConfigDict, Field

        from workbench.train.methods import METHODS, Method
        from workbench.train.render import prepare_data


        class Settings(BaseModel):
            model_config = ConfigDict(extra="forbid")

            marker: str = "plain"
            repeats: int = Field(1, ge=1)

            def check(self, cfg):
                if self.repeats > cfg.batch_size:
                    raise ValueError(f"sft_plugin.repeats: {self.repeats} is more than batch_size ({cfg.batch_size})")


        def prepare(records, tokenizer, cfg, seed):
            data = prepare_data(records, tokenizer, cfg, seed)
            data.stats["prepared_by"] = "wbdemo_plugin"
            return data


        def fit(args):
            own = args.cfg.settings()
            (args.run_dir / "plugin_fit.txt").write_text(f"{args.cfg.method} {os.getpid()} {own.marker * own.repeats}")
            return METHODS["sft"].fit_fn()(args)


        SFT_PLUGIN = Method("sft_plugin", kind="sft", prepare="wbdemo_plugin.method:prepare",
                            fit="wbdemo_plugin.method:fit", config="wbdemo_plugin.method:Settings",
                            summary="SFT from a plug-in")
    ''',
    # a step, registered by the decorator as its module is imported (that fills its entry point)
    "wbdemo_plugin/steps.py": '''
        from workbench.curate.steps import Filter, Params, Verdict, register


        class DropWordParams(Params):
            word: str


        @register
        class DropWord(Filter):
            name = "drop_word"
            Params = DropWordParams

            def check(self, record):
                if self.params.word in record.assistant_text():
                    return Verdict("has_word", self.params.word)
                return None
    ''',
    # a format and a reader: `Q: ... | A: ...` lines in a .qa file
    "wbdemo_plugin/formats.py": '''
        from workbench.data.records import adapter


        @adapter("plugin_fmt", keys={"q", "a"})
        def plugin_fmt(row):
            if "q" not in row or "a" not in row:
                return None
            return {"messages": [{"role": "user", "content": row["q"]}, {"role": "assistant", "content": row["a"]}],
                    "reasoning_mode": None, "meta": {"via": "plugin_fmt"}}


        def read_qa(path, tolerant=False):
            for lineno, line in enumerate(path.read_text().splitlines(), 1):
                if line.strip():
                    q, _, a = line.partition(" | A: ")
                    yield f"{path}:{lineno}", {"q": q.removeprefix("Q: "), "a": a}
    ''',
}

ENTRY_POINTS = """
[workbench.methods]
sft_plugin = wbdemo_plugin.method:SFT_PLUGIN

[workbench.steps]
drop_word = wbdemo_plugin.steps:DropWord

[workbench.formats]
plugin_fmt = wbdemo_plugin.formats:plugin_fmt

[workbench.readers]
.qa = wbdemo_plugin.formats:read_qa
"""


def install(root: Path, name: str, entry_points: str, files: dict[str, str] | None = None) -> Path:
    """What `pip install` leaves in site-packages: the modules and NAME-0.1.dist-info."""
    for rel, text in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    info = root / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)
    return root


def cli(*args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "workbench"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "workbench"]
    p = subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, timeout=900)
    if check and p.returncode != 0:
        raise AssertionError(f"workbench {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


# Runs commands read from stdin (one JSON argv a line) through the console script's entry point
# (`workbench.cli.main`, as tests.conftest.run_cli_here does) in this one fresh interpreter, which
# finds the plug-in through its entry points as the console script does; one JSON result a line.
SESSION = """
import json, os, sys
from tests.conftest import run_cli_here
results = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)  # anything written outside a command goes to stderr, not into the results
for line in sys.stdin:
    p = run_cli_here(*json.loads(line), check=False)
    results.write(json.dumps([p.returncode, p.stdout, p.stderr]) + "\\n")
    results.flush()
"""


class CliSession:
    """`workbench ARGS...` in one long-lived interpreter with the plug-in on its path (and never in
    this one): the commands of one story pay the start-up (importing torch, transformers, the
    plug-in) once instead of once per command. `cli` keeps the console script itself in a new
    process where that is what is checked."""

    def __init__(self, env: dict):
        self.env = env
        self.proc = subprocess.Popen([sys.executable, "-c", SESSION], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        self.proc.stdin.write(json.dumps(args) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"the command session ended (exit code {self.proc.wait()}) during workbench {' '.join(args)}"
        code, out, err = json.loads(line)
        p = subprocess.CompletedProcess(["workbench", *args], code, out, err)
        if check and code != 0:
            raise AssertionError(f"workbench {' '.join(args)} exited {code}:\n{out}\n{err}")
        return p

    def close(self) -> None:
        self.proc.stdin.close()
        assert self.proc.wait(timeout=300) == 0


def plugin_env(home: Path, *paths: Path) -> dict:
    return {**os.environ, "WORKBENCH_HOME": str(home), "COLUMNS": "400",
            "PYTHONPATH": os.pathsep.join([*map(str, paths), str(REPO), os.environ.get("PYTHONPATH", "")])}


@pytest.fixture
def cli_session():
    """Starts CliSessions; any still running at the end (a failed assertion) is killed."""
    made: list[CliSession] = []

    def start(env: dict) -> CliSession:
        made.append(CliSession(env))
        return made[-1]

    yield start
    for s in made:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


@pytest.fixture
def plugin(tmp_path) -> Path:
    return install(tmp_path / "site", "wbdemo-plugin", ENTRY_POINTS, PLUGIN)


def test_an_installed_plugin_ingests_curates_and_trains_through_the_cli(plugin, tmp_path, tiny_model_dir, cli_session):
    env = plugin_env(tmp_path / "home", plugin)

    listed = {m["name"]: m for m in json.loads(cli("train", "methods", "--json", env=env).stdout)}
    assert list(listed) == ["sft", "dpo", "grpo", "sft_plugin"] and listed["sft_plugin"]["kind"] == "sft"
    assert listed["sft_plugin"]["source"] == ("entry point 'sft_plugin = wbdemo_plugin.method:SFT_PLUGIN' in group "
                                              "workbench.methods of package wbdemo-plugin 0.1")

    session = cli_session(env)  # the same entry point, one interpreter for the commands below

    # a .qa file (the plug-in's reader) in the plug-in's format
    rows = [f"Q: what is {i} plus {i}? | A: {i} plus {i} is {2 * i}." for i in range(10)]
    rows[3] = "Q: name a fruit | A: a banana is a fruit."
    rows[7] = "Q: and a yellow one? | A: banana, again."
    (tmp_path / "rows.qa").write_text("\n".join(rows) + "\n")
    session("data", "ingest", str(tmp_path / "rows.qa"), "--name", "raw", "--format", "plugin_fmt")

    # a recipe that uses the plug-in's step beside a built-in one
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("name: plugin\nsteps:\n  - step: structure\n  - step: drop_word\n    params: {word: banana}\n")
    out = json.loads(session("curate", "run", "raw", "--recipe", str(recipe), "--name", "curated", "--json").stdout)
    text = json.dumps(out)
    assert "drop_word" in text and "has_word" in text, text

    # the records came through the plug-in's format, and its step removed exactly the two banana rows
    from workbench.data.store import load_records
    from workbench.core.workspace import Workspace

    ws = Workspace(tmp_path / "home")
    cat = ws.catalog()
    raw, curated = cat.resolve_version("raw"), cat.resolve_version("curated")
    assert raw["n_rows"] == 10 and curated["n_rows"] == 8
    kept = load_records(ws, curated["id"])
    assert all(r.meta.get("via") == "plugin_fmt" for r in kept)
    assert not any("banana" in r.assistant_text() for r in kept)

    # train with the plug-in's method on the tiny model
    config = tmp_path / "train.yaml"
    base = "max_steps: 1\nbatch_size: 2\nsave_steps: 1\nsanity_prompts: 1\nsanity_max_new_tokens: 4\n"
    # the plug-in's own section: a misspelled key and its cross-check fail with the file's line and key path
    config.write_text(base + "sft_plugin:\n  marker: ok\n  repeat: 2\n")
    bad = session("train", "--data", "curated", "--base", str(tiny_model_dir), "--config", str(config),
                  "--method", "sft_plugin", check=False)
    said = " ".join((bad.stdout + bad.stderr).split())
    assert bad.returncode == 2 and f"{config}:8: sft_plugin.repeat: Extra inputs are not permitted" in said, said
    config.write_text(base + "sft_plugin:\n  marker: ok\n  repeats: 3\n")
    bad = session("train", "--data", "curated", "--base", str(tiny_model_dir), "--config", str(config),
                  "--method", "sft_plugin", check=False)
    said = " ".join((bad.stdout + bad.stderr).split())
    assert bad.returncode == 2 and "sft_plugin.repeats: 3 is more than batch_size (2)" in said, said
    config.write_text(base + "sft_plugin:\n  marker: ok\n  repeats: 2\n")
    trained = session("train", "--data", "curated", "--base", str(tiny_model_dir), "--config", str(config),
                      "--method", "sft_plugin").stdout
    m = re.search(r"run (\S+) sft_plugin trained", trained)
    assert m, trained
    run = json.loads(session("train", "show", m.group(1), "--json").stdout)
    assert run["status"] == "finished" and run["meta"]["method"] == "sft_plugin"
    assert run["config"]["method"] == "sft_plugin"  # part of the run id, as dpo and grpo are
    assert run["config"]["sft_plugin"] == {"marker": "ok", "repeats": 2}  # its section too
    assert run["meta"]["data"]["prepared_by"] == "wbdemo_plugin"
    marker = (Path(run["run_dir"]) / "plugin_fit.txt").read_text().split()
    assert marker[0] == "sft_plugin" and int(marker[1]) != os.getpid() and marker[2] == "okok"
    assert (Path(run["adapter_dir"]) / "adapter_config.json").exists()

    # `train plan` takes --method too
    plan = json.loads(session("train", "plan", "--data", "curated", "--base", str(tiny_model_dir),
                              "--config", str(config), "--method", "sft_plugin", "--json").stdout)
    assert plan["method"] == "sft_plugin"

    # an ablation's train task runs in a spawned child process (ablate/executors.py), which finds
    # the plug-in by itself: it resolves the method and computes the same run id (finished: reused)
    probe = textwrap.dedent(f"""
        import json, sys
        from workbench.ablate.executors import run_in_child
        out = run_in_child({str(tmp_path / "home")!r}, {{"kind": "train", "inputs": {{
            "version": {curated["id"]!r}, "base": {str(tiny_model_dir)!r}, "seed": 0,
            "config": {{"max_steps": 1, "batch_size": 2, "save_steps": 1, "sanity_prompts": 1,
                        "sanity_max_new_tokens": 4, "method": "sft_plugin",
                        "sft_plugin": {{"marker": "ok", "repeats": 2}}}}}}}})
        assert "wbdemo_plugin" not in sys.modules, "the parent process never imported the plug-in"
        print(json.dumps(out))
    """)
    child = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=900)
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout.strip().splitlines()[-1])["run_id"] == m.group(1)
    session.close()


def test_a_plugin_name_taken_twice_is_refused_naming_both(plugin, tmp_path):
    clash = install(tmp_path / "clash", "wbdemo-clash", "[workbench.methods]\nsft = wbdemo_plugin.method:SFT_PLUGIN\n"
                    "\n[workbench.formats]\nplugin_fmt = wbdemo_plugin.formats:plugin_fmt\n")
    env = plugin_env(tmp_path / "home", plugin, clash)

    p = cli("train", "methods", env=env, check=False)
    assert p.returncode != 0
    said = " ".join((p.stdout + p.stderr).split())
    assert ("training method 'sft' is already registered by workbench.train.sft:fit_sft; entry point "
            "'sft = wbdemo_plugin.method:SFT_PLUGIN' in group workbench.methods of package wbdemo-clash 0.1") in said, said
    assert "Traceback" not in said

    (tmp_path / "rows.jsonl").write_text('{"q": "hi", "a": "hello"}\n')
    p = cli("data", "ingest", str(tmp_path / "rows.jsonl"), "--name", "x", env=env, check=False)
    said = " ".join((p.stdout + p.stderr).split())
    assert p.returncode != 0 and "record format 'plugin_fmt' is already registered by entry point" in said, said
    assert "wbdemo-plugin 0.1" in said and "wbdemo-clash 0.1" in said

    shutil.rmtree(clash)  # without the clash, the same commands work
    assert "sft_plugin" in cli("train", "methods", env=env).stdout


def test_rewards_scores_and_suite_folders_come_from_a_package_too(tmp_path):
    site = install(tmp_path / "site", "wbdemo-extra", (
        "[workbench.rewards]\nwb_len = wbdemo_extra:WB_LEN\n\n[workbench.scores]\nwb_words = wbdemo_extra:wb_words\n"
        "\n[workbench.suites]\nwbdemo = wbdemo_extra:SUITES\n"), {"wbdemo_extra/__init__.py": '''
        from pathlib import Path

        from workbench.train.rewards import Reward

        WB_LEN = Reward("wb_len", ("answer",), lambda row, text: float(len(text) <= len(row["answer"])))
        SUITES = Path(__file__).parent / "suites"


        def wb_words(record):
            return float(len(record.assistant_text().split()))
    '''})
    suite = site / "wbdemo_extra" / "suites" / "arith_plugin"  # a copy of a bundled suite, renamed
    shutil.copytree(REPO / "evalsuites" / "arith_choice", suite)
    for y in suite.glob("arith_choice*.yaml"):
        y.rename(suite / y.name.replace("arith_choice", "arith_plugin"))
    for y in suite.glob("*.yaml"):
        y.write_text(y.read_text().replace("arith_choice", "arith_plugin"))
    env = plugin_env(tmp_path / "home", site)

    probe = textwrap.dedent("""
        from workbench.curate.ablation_steps import SCORES, ScoreCutParams
        from workbench.data.records import Record
        from workbench.evals.suites import select
        from workbench.train.config import TrainConfig
        from workbench.train.rewards import REWARDS

        cfg = TrainConfig.load({"method": "grpo", "grpo": {"rewards": ["gsm_answer", "wb_len"]}, "batch_size": 4})
        print("reward", REWARDS["wb_len"].score({"answer": "12"}, "12"), cfg.settings().rewards)
        rec = Record("r1", [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "one two three"}])
        print("score", SCORES["wb_words"](rec), ScoreCutParams(score="wb_words", remove_lowest=0.5).score)
        [s] = select(["arith_plugin"], "smoke")
        print("suite", s.name, s.dir)
    """)
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "reward 1.0 ['gsm_answer', 'wb_len']" in p.stdout and "score 3.0 wb_words" in p.stdout, p.stdout
    assert f"suite arith_plugin {suite}" in p.stdout, p.stdout
    assert "arith_plugin" in cli("eval", "suites", env=env).stdout
