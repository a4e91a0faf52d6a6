"""Ablation spec validation: every error names the file and the key path; nothing is written."""

from __future__ import annotations

import textwrap

import pytest

from tests.conftest import REPO, run_cli
from workbench.ablate.spec import SpecError, load_spec, parse_spec

FIXTURES = REPO / "tests" / "fixtures"


def write(tmp_path, text: str, name: str = "spec.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


GOOD = f"""
name: demo
base: smollm2-135m-instruct
seeds: [0, 1]
train: {{max_steps: 2}}
eval: {{suites: [gsm-style], layer: smoke, limit: 5}}
variants:
  - name: raw
    sources: [{FIXTURES / 'alpaca.jsonl'}]
  - name: think
    sources: [fixtures/alpaca.jsonl]
    synth: {{mode: think, limit: 4}}
  - name: prebuilt
    version: some-version
"""


def test_good_spec_parses_and_resolves_relative_paths(tmp_path):
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "fixtures" / "alpaca.jsonl").write_text((FIXTURES / "alpaca.jsonl").read_text())
    spec = load_spec(write(tmp_path, GOOD))
    assert [v.name for v in spec.variants] == ["raw", "think", "prebuilt"]
    assert spec.seeds == [0, 1] and spec.eval.limit == 5
    assert spec.path(spec.variants[1].sources[0]) == str(tmp_path / "fixtures" / "alpaca.jsonl")


@pytest.mark.parametrize(
    "patch, expected",
    [
        ({"eval": {"suites": ["gsm-style"], "layr": "smoke"}}, "eval.layr: unknown key"),
        ({"eval": {"suites": ["gsm-style"], "layer": "full"}}, "eval.layer: Input should be 'smoke' or 'core'"),
        ({"seeds": []}, "seeds: List should have at least 1 item"),
        ({"variants": [{"name": "a", "sources": ["x"]}, {"name": "b", "sources": ["x"], "synth": {"mdoe": "think"}}]},
         "variants[1].synth.mdoe: unknown key"),
        ({"variants": [{"name": "a", "sources": ["x"]}, {"name": "b", "sources": ["x"], "synth": {},
                                                          "mix": {"weights": {"data": -1}}}]},
         "variants[1].mix.weights: weights must not be negative"),
        ({"variants": [{"name": "a", "version": "v1", "recipe": "r.yaml"}]}, "variants[0]: a `version` variant is used as is"),
        ({"variants": [{"name": "a"}]}, "variants[0]: give exactly one of `version`"),
        ({"variants": [{"name": "a", "version": "v"}, {"name": "a", "version": "w"}]}, "variants: variant names repeat: a"),
        ({"variants": [{"name": "base", "version": "v"}]}, "variants[0].name: 'base' is reserved"),
        ({"variants": [{"name": "a", "sources": ["missing/data.jsonl"]}]}, "variants[0].sources[0]: file not found"),
        ({"name": None}, "name: Input should be a valid string"),
    ],
)
def test_bad_spec_names_the_key_path(patch, expected, tmp_path):
    data = {"name": "demo", "eval": {"suites": ["gsm-style"]}, "variants": [{"name": "a", "version": "v"}], **patch}
    with pytest.raises(SpecError) as e:
        parse_spec(data, where="spec.yaml", root=tmp_path)
    assert f"spec.yaml: {expected}" in str(e.value)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, "name: demo\neval: {suites: [a]\nvariants: []\n")
    with pytest.raises(SpecError, match=r"spec.yaml:3: not valid YAML"):
        load_spec(path)


def test_inline_recipe_errors_carry_the_variant_key_path(tmp_path):
    pytest.importorskip("workbench.curate.recipe")
    data = {"name": "demo", "eval": {"suites": ["gsm-style"]},
            "variants": [{"name": "a", "version": "v"},
                         {"name": "b", "sources": [str(FIXTURES / "alpaca.jsonl")], "recipe": {"steps": [{"nonexistent_step": {}}]}}]}
    with pytest.raises(SpecError) as e:
        parse_spec(data, where="spec.yaml", root=tmp_path)
    assert "spec.yaml: variants[1].recipe" in str(e.value) and "steps[0]" in str(e.value)


def test_cli_rejects_a_bad_spec_and_writes_nothing(ws, tmp_path):
    path = write(tmp_path, "name: demo\neval: {suites: [gsm-style]}\nvariants:\n  - {name: a, sources: [nope.jsonl], extra: 1}\n")
    proc = run_cli("ablate", str(path), check=False)
    assert proc.returncode == 2, proc.stderr
    assert "variants[0].extra: unknown key" in proc.stderr
    assert ws.catalog().list_ablations() == []


def test_reading_a_spec_does_not_import_the_trainer(tmp_path):
    """Validating `method:` reads the methods registry, which must not import transformers'
    Trainer stack (~10 s on 2 cores): report, status, --dry-run and every view page read specs."""
    import subprocess
    import sys

    code = ("import sys; from workbench.ablate.spec import load_spec; "
            f"s = load_spec({str(REPO / 'examples' / 'dpo.yaml')!r}); "
            "assert any(v.method for v in s.variants); "
            "print(sorted(m for m in ('transformers.trainer_callback', 'workbench.train.sft', 'peft', 'torch') "
            "if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout
