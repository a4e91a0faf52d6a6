"""Command-line usage errors: the usage message and exit 2, never a traceback.

Each command group is tried with an unknown option, a missing argument and an unknown
command, both in process (the app with standalone mode off, exactly as `run_cli` calls it)
and through the console script's entry point (`workbench.cli.main`, via conftest's
`run_cli_here`: exit code and the text at the file descriptors). The real console entry
(`python -m workbench` in a subprocess) is checked on representative errors below.
"""

from __future__ import annotations

import sys

import pytest
import typer

from tests.conftest import run_cli as run_subprocess
from tests.conftest import run_cli_here
from workbench.cli import app
from workbench.cli.common import run_cli

ROOT = typer.main.get_command(app)
GROUPS = sorted(n for n, c in ROOT.commands.items() if hasattr(c, "commands") or n == "app")  # `app`: a callback group
COMMANDS = sorted(n for n in ROOT.commands if n not in GROUPS)  # top-level commands: gc, verify


def _missing_argument_case(group: str) -> list[str]:
    """argv for a command of `group` called without a required parameter (or option value)."""
    sub = ROOT.commands[group]
    for name, cmd in getattr(sub, "commands", {}).items():
        if any(p.required for p in cmd.params):
            return [group, name]
    # a group with no subcommand taking an argument (`app`): an option without its value
    opt = next(p for p in sub.params if getattr(p, "opts", None) and not p.is_flag and p.name != "help")
    return [group, opt.opts[0]]


def usage_cases() -> list[tuple[str, list[str]]]:
    cases = [("top-level unknown command", ["nosuch-command"]), ("top-level unknown option", ["--bogus-option"])]
    for g in GROUPS:
        cases.append((f"{g}: unknown option", [g, "--bogus-option"]))
        cases.append((f"{g}: missing argument", _missing_argument_case(g)))
        # a DefaultGroup routes an unknown word to its default command, where it is then an
        # unexpected argument or leaves a required option missing: a usage error either way
        cases.append((f"{g}: unknown command", [g, "nosuch-command", "extra-word", "--bogus-option"]))
    for c in COMMANDS:
        cases.append((f"{c}: unknown option", [c, "--bogus-option"]))
        n_args = sum(1 for p in ROOT.commands[c].params if p.param_type_name == "argument")
        cases.append((f"{c}: unexpected argument", [c, *["extra-word"] * (n_args + 1)]))
    return cases


CASES = usage_cases()
IDS = [c[0] for c in CASES]


def test_every_group_has_cases():
    assert len(GROUPS) >= 10 and "data" in GROUPS and "ablate" in GROUPS
    assert len(CASES) == 2 + 3 * len(GROUPS) + 2 * len(COMMANDS) and COMMANDS == ["backup", "doctor", "gc", "restore", "verify"]


def test_every_leaf_command_rejects_an_unknown_option(monkeypatch, capsys):
    leaves = [[g, n] for g in GROUPS for n in getattr(ROOT.commands[g], "commands", {})]
    assert len(leaves) > 15
    for argv in leaves:
        code, err = _in_process(monkeypatch, capsys, [*argv, "--bogus-option"])
        assert code == 2, (argv, err)
        assert "No such option: --bogus-option" in err, (argv, err)


def _in_process(monkeypatch, capsys, argv: list[str]) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["workbench", *argv])
    with pytest.raises(SystemExit) as exc:
        run_cli(app)
    out = capsys.readouterr()
    return exc.value.code, out.err + out.out


def _assert_usage_error(argv: list[str], text: str) -> None:
    assert "Error:" in text and "Traceback" not in text, text
    if not argv[-1].startswith("--port"):  # click's parser has no context for "requires an argument"
        assert "Usage:" in text, text
    else:
        assert "requires an argument" in text, text


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_usage_error_in_process(case, monkeypatch, capsys, ws):
    _, argv = case
    code, text = _in_process(monkeypatch, capsys, argv)
    assert code == 2, text
    _assert_usage_error(argv, text)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_usage_error_console_entry(case, ws):
    """The console script's entry point (`workbench.cli.main`: exit code, stderr at fd 2), in this
    process; the `python -m workbench` process itself is checked by the tests below."""
    _, argv = case
    proc = run_cli_here(*argv, check=False)
    assert proc.returncode == 2, proc.stderr
    _assert_usage_error(argv, proc.stderr)
    assert "Traceback" not in proc.stdout


def test_specific_messages(ws):
    proc = run_subprocess("data", "ingest", check=False)
    assert proc.returncode == 2 and "Missing argument 'source'" in proc.stderr
    proc = run_subprocess("ablate", "spec.yaml", "--bogus", check=False)
    assert proc.returncode == 2 and "No such option: --bogus" in proc.stderr
    proc = run_subprocess("nosuch", check=False)
    assert proc.returncode == 2 and "No such command 'nosuch'" in proc.stderr


def test_no_arguments_shows_help_and_exits_2(ws):
    proc = run_subprocess(check=False)
    assert proc.returncode == 2
    assert "Usage:" in proc.stdout + proc.stderr and "Traceback" not in proc.stderr


def test_help_exits_0(ws):
    proc = run_subprocess("data", "--help", check=False)
    assert proc.returncode == 0 and "ingest" in proc.stdout


def test_every_user_error_class_is_a_workbench_error():
    import importlib

    from workbench.core.errors import WorkbenchError

    classes = {
        "workbench.core.catalog": "CatalogError", "workbench.data.ingest": "IngestError",
        "workbench.data.readers": "InputError", "workbench.data.records": "RecordError",
        "workbench.core.models": "ModelError", "workbench.curate.recipe": ("RecipeError", "CurationError"),
        "workbench.train": "TrainError", "workbench.evals.suites": "SuiteError",
        "workbench.evals.runner": "EvalError", "workbench.synth.think": "SynthError",
        "workbench.synth.mix": "MixError", "workbench.ablate": "AblationError",
        "workbench.ablate.spec": "SpecError", "workbench.cli.common": "UserFacingError",
        "workbench.evals.scoring": "DataError",
    }
    for mod, names in classes.items():
        for name in (names,) if isinstance(names, str) else names:
            cls = getattr(importlib.import_module(mod), name)
            assert issubclass(cls, WorkbenchError), f"{mod}.{name}"
    from workbench.curate.steps import RecipeError
    from workbench.data.records import RecordError

    assert issubclass(RecordError, ValueError) and issubclass(RecipeError, ValueError)  # code catches those


def test_a_workbench_error_is_one_red_line_exit_2(ws, tmp_path):
    proc = run_subprocess("data", "ingest", str(tmp_path / "missing.jsonl"), "--name", "x", check=False)
    assert proc.returncode == 2 and "error:" in proc.stderr and "Traceback" not in proc.stderr
