"""Config files are parsed by libyaml's C parser when PyYAML has it (13x faster on suite YAML):
every YAML file the project ships gives the same values and the same key lines as the
pure-Python parser, and a broken file gets the pure-Python parser's own message."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from workbench.core.config import ConfigError, _libyaml, _node_lines, read_config
from workbench.evals.suites import _Loader

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p for pattern in ("examples/**/*.yaml", "evalsuites/**/*.yaml", "benchmarks/**/*.yaml",
                                   "workbench/**/*.yaml") for p in REPO.glob(pattern))


def _reference(path: Path, loader) -> tuple:
    text = path.read_text(encoding="utf-8").removeprefix("\ufeff")
    lines: dict = {}
    node = yaml.compose(text, Loader=loader)
    if node is not None:
        _node_lines(node, (), lines)
    return yaml.load(text, Loader=loader), lines


def test_the_c_parser_is_used_when_pyyaml_has_it():
    if not yaml.__with_libyaml__:
        pytest.skip("this PyYAML was built without libyaml")
    assert issubclass(_libyaml(yaml.SafeLoader), yaml.CSafeLoader)
    assert "!function" in _libyaml(_Loader).yaml_constructors  # a loader's own tags come along


@pytest.mark.parametrize("loader", [yaml.SafeLoader, _Loader], ids=["safe", "lm-eval tags"])
def test_every_shipped_yaml_reads_the_same_with_the_same_key_lines(loader):
    assert len(SHIPPED) > 20
    checked = 0
    for path in SHIPPED:
        try:
            want = _reference(path, loader)
        except yaml.YAMLError:
            continue  # a tag this loader does not know (the suites' !function under SafeLoader)
        got = read_config(path, loader=loader)
        assert (got.data, got.lines) == want, path
        checked += 1
    assert checked >= 20


def test_a_broken_file_gets_the_reference_parsers_message(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ntrain:\n  lr: [1, 2\n  steps: 3\n")
    with pytest.raises(ConfigError) as got:
        read_config(path)
    try:
        yaml.load(path.read_text(), Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        problem, line = e.problem, e.problem_mark.line + 1
    assert str(got.value) == f"{path}:{line}: not valid YAML: {problem}"
