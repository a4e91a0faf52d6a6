"""Typed task inputs (issue 23 §2): the spec resolved once into BuildInputs / TrainInputs /
EvalInputs, the same plain mapping on the wire, and task ids and run ids exactly as before.

The ids below were computed on main before the inputs were typed (commit d865a6c: `Task.inputs`
a dict, the train config resolved per call, the recipe re-read with yaml.safe_load). Train and
run ids use a fixed version id per variant (the build's output) and a fixed base model hash. The
build ids of variants that `shapley.yaml` and `strategies.yaml` (the example as it was then, kept in
tests/fixtures/) generate are left out: their
recipes are curation steps with every default filled in, so they follow the filters' defaults.

Train and run ids were re-pinned on 2026-12-07, when the LoRA dropout default went from 0.05 to 0
(a different training, so a different id); build and eval task ids did not move."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.ablate import schema
from workbench.ablate.inputs import BuildInputs, EvalInputs, TrainInputs, parse_inputs
from workbench.ablate.outputs import OutputError
from workbench.ablate.spec import load_spec, parse_spec
from workbench.ablate.tasks import (BASE, Task, build_task, eval_task, resolved_train_config, train_configs, train_task,
                                    variant_train_config)
from workbench.train.config import TrainConfig
from workbench.train.sft import run_id_for

REPO = Path(__file__).resolve().parents[1]

PINNED = {'dpo.yaml': {'build sft': 'build-a49b744b1d0d28f7',
              'build sft-dpo': 'build-8c09281cc080b1ad',
              'eval base': 'eval-cdb2b95cd4038079',
              'eval sft 0': 'eval-c1a6821089715ed1',
              'eval sft-dpo 0': 'eval-d180468804f0c070',
              'run sft 0': 'e7447f1599d66cee',
              'run sft-dpo 0': '8a2d6d72f389e13e',
              'train sft 0': 'train-265e6404c8787e3b',
              'train sft-dpo 0': 'train-f6812d2f549b7f6a'},
 'grpo.yaml': {'build sft': 'build-a49b744b1d0d28f7',
               'build sft-grpo': 'build-6568c39b70c90f24',
               'eval base': 'eval-cdb2b95cd4038079',
               'eval sft 0': 'eval-c1a6821089715ed1',
               'eval sft-grpo 0': 'eval-2ef1e8f61ce71e53',
               'run sft 0': 'e7447f1599d66cee',
               'run sft-grpo 0': '0a36962f82bd40fb',
               'train sft 0': 'train-265e6404c8787e3b',
               'train sft-grpo 0': 'train-8d08fe28b90b7cea'},
 'inline': {'build given': 'build-eb9b40883922e2ea',
            'build inline': 'build-9b8d22369881cd71',
            'build rl': 'build-d67d13bf467602aa',
            'eval given 0': 'eval-be59446b4688ea88',
            'eval given 1': 'eval-b3590050d8600dbb',
            'eval inline 0': 'eval-1e522c1657d26bee',
            'eval inline 1': 'eval-7210b2a39e98f170',
            'eval rl 0': 'eval-365b0a23f0933c8b',
            'eval rl 1': 'eval-231b80ea227c197a',
            'train given 0': 'train-c6ca43838b3d4267',
            'train given 1': 'train-c74fc6c9f58963cf',
            'train inline 0': 'train-85068b3a68994c10',
            'train inline 1': 'train-a77f07b2494022a3',
            'train rl 0': 'train-9ae1c4f59e5b0370',
            'train rl 1': 'train-8b9265b32376ba70'},
 'mixture_search.yaml': {'build mix.corner-formatting': 'build-c414d255cae428c5',
                         'build mix.corner-general': 'build-21cfd2944ab494b9',
                         'build mix.corner-math': 'build-87d85332fd110f23',
                         'build mix.corner-reasoning': 'build-85c461e644e5c1fa',
                         'build mix.m05': 'build-d80ba23f7280baa2',
                         'build mix.m06': 'build-0a5a0452757bc644',
                         'build mix.m07': 'build-3d574b535ff6f26d',
                         'build mix.natural': 'build-844e5b2b30afa132',
                         'eval base': 'eval-22178c66a3b17ecb',
                         'eval mix.corner-formatting 0': 'eval-aae80b6bfa20e998',
                         'eval mix.corner-general 0': 'eval-6b72912a5413e481',
                         'eval mix.corner-math 0': 'eval-fa208c32dc6f764b',
                         'eval mix.corner-reasoning 0': 'eval-e3d55edeac718b67',
                         'eval mix.m05 0': 'eval-f2b25ab71cfdfa16',
                         'eval mix.m06 0': 'eval-c7eb920d4c165798',
                         'eval mix.m07 0': 'eval-9c1ead8be6810bc1',
                         'eval mix.natural 0': 'eval-50338ad79bde0338',
                         'run mix.corner-formatting 0': '58397dcb5ea79121',
                         'run mix.corner-general 0': '00c9e9ce4dac7a55',
                         'run mix.corner-math 0': 'a97603c94ef2644d',
                         'run mix.corner-reasoning 0': 'd3dbd306dc82b5aa',
                         'run mix.m05 0': 'ee205fe4697bb91c',
                         'run mix.m06 0': 'c939fcb76969a000',
                         'run mix.m07 0': 'd66c0a7c29415f16',
                         'run mix.natural 0': '9cbb097ff5df5ae5',
                         'train mix.corner-formatting 0': 'train-594b6c9bada08394',
                         'train mix.corner-general 0': 'train-980ec8f4235851c7',
                         'train mix.corner-math 0': 'train-6d55577034504178',
                         'train mix.corner-reasoning 0': 'train-4e9308d101dbc758',
                         'train mix.m05 0': 'train-acf3445a72202ef7',
                         'train mix.m06 0': 'train-d5bd78426ab937a5',
                         'train mix.m07 0': 'train-2e1f88c2e661710c',
                         'train mix.natural 0': 'train-b078955689f1b240'},
 'quickstart.yaml': {'build curated': 'build-4abdaca9ffee4ecf',
                     'build no-reasoning': 'build-0bd8066b32090f52',
                     'eval base': 'eval-a02e9f9c4f582098',
                     'eval curated 0': 'eval-3032a007ec9fb4d8',
                     'eval no-reasoning 0': 'eval-8ae03df985bb78a1',
                     'eval no-reasoning 1': 'eval-0c095fb9e2ac1a0b',
                     'run curated 0': '443447eb86dd8159',
                     'run no-reasoning 0': '2fc572ada362de0d',
                     'run no-reasoning 1': '2768ae220eaffe2f',
                     'train curated 0': 'train-8b214976b048003b',
                     'train no-reasoning 0': 'train-d3bb971ca2b53be0',
                     'train no-reasoning 1': 'train-51858c471c946f11'},
 'shapley.yaml': {'eval base': 'eval-22178c66a3b17ecb',
                  'eval shapley.all 0': 'eval-979ad5ef24b33781',
                  'eval shapley.all 1': 'eval-eb553c0a092c11c3',
                  'eval shapley.minhash_dedup 0': 'eval-c856bf4e29f21f0d',
                  'eval shapley.minhash_dedup 1': 'eval-e7962e16994b35af',
                  'eval shapley.none 0': 'eval-de22062f62c0c202',
                  'eval shapley.none 1': 'eval-c466347ac258f33a',
                  'eval shapley.reasoning_format 0': 'eval-b76b87ae0da7495d',
                  'eval shapley.reasoning_format 1': 'eval-b4825ab983d38ef4',
                  'run shapley.all 0': '7fe7ecdd73101ee1',
                  'run shapley.all 1': '0a6e7cd4b3a4f8c9',
                  'run shapley.minhash_dedup 0': '97ed940ea136590c',
                  'run shapley.minhash_dedup 1': '51bc1e67b46d5d1e',
                  'run shapley.none 0': 'cd6915eaa1fbdb03',
                  'run shapley.none 1': '4a8ccb8128920a4d',
                  'run shapley.reasoning_format 0': 'fd35902aada6f2cd',
                  'run shapley.reasoning_format 1': '2841f5e2fbf94591',
                  'train shapley.all 0': 'train-b7e71abcd701ac33',
                  'train shapley.all 1': 'train-9c5a5599c662d54d',
                  'train shapley.minhash_dedup 0': 'train-f92ed2e3d6049663',
                  'train shapley.minhash_dedup 1': 'train-7ba614b4b55eb811',
                  'train shapley.none 0': 'train-a873b15f3deb84f1',
                  'train shapley.none 1': 'train-fe103e6810ae9ffc',
                  'train shapley.reasoning_format 0': 'train-71e921523c52b0e3',
                  'train shapley.reasoning_format 1': 'train-3d78463de62e9375'},
 'fixtures/strategies_2026-12-01.yaml': {'eval base': 'eval-22178c66a3b17ecb',
                     'eval step.full 0': 'eval-8516b3a7c237eca2',
                     'eval step.full.c0 0': 'eval-9b28578ae0f1eabb',
                     'eval step.full.c1 1': 'eval-4f2aa43eca17d953',
                     'eval step.only-minhash_dedup 0': 'eval-d4be5d4fd9fc184c',
                     'eval step.only-minhash_dedup.c0 0': 'eval-a3451a643152eeb0',
                     'eval step.only-minhash_dedup.c1 1': 'eval-97bf046c8913045b',
                     'eval step.only-reasoning_format 0': 'eval-caa4819a4a7a9fa1',
                     'eval step.only-reasoning_format.c0 0': 'eval-1b07d2f74bbec2b9',
                     'eval step.only-reasoning_format.c1 1': 'eval-a58c633f5b52b116',
                     'eval step.source 0': 'eval-5f79fcff533bb1a0',
                     'run step.full 0': 'ff6214b4e38febe8',
                     'run step.full.c0 0': '572f0de17e5d9aff',
                     'run step.full.c1 1': '826586173f63da2d',
                     'run step.only-minhash_dedup 0': '2228a3a5a6f3b70a',
                     'run step.only-minhash_dedup.c0 0': '6a06b1a81dea67d0',
                     'run step.only-minhash_dedup.c1 1': '87f7a3234b9071cd',
                     'run step.only-reasoning_format 0': '1897a74a3f18a922',
                     'run step.only-reasoning_format.c0 0': '1cb13ec0b35afbc7',
                     'run step.only-reasoning_format.c1 1': '3190ef723b3f12e7',
                     'run step.source 0': '6184ed1129812f7e',
                     'train step.full 0': 'train-335eeb5444325668',
                     'train step.full.c0 0': 'train-975f018ace397490',
                     'train step.full.c1 1': 'train-be656edb343e6baa',
                     'train step.only-minhash_dedup 0': 'train-d49e7a9e67461fa9',
                     'train step.only-minhash_dedup.c0 0': 'train-ce1b2d57754b9903',
                     'train step.only-minhash_dedup.c1 1': 'train-5894a507b3badfa3',
                     'train step.only-reasoning_format 0': 'train-15ba18d8c7eccd78',
                     'train step.only-reasoning_format.c0 0': 'train-2dcd7a235a837fd5',
                     'train step.only-reasoning_format.c1 1': 'train-f1c428482ff48bdf',
                     'train step.source 0': 'train-de926d76c93e2238'}}


def inline_spec():
    """A spec with what the examples lack: an inline recipe, synth and mix, a version variant, two seeds."""
    return parse_spec({
        "name": "typed", "seeds": [0, 1], "eval": {"suites": ["think_follow"], "limit": 5},
        "train": {"max_steps": 3, "batch_size": 2, "grad_accum": 2, "grpo": {"num_generations": 2}},
        "variants": [
            {"name": "inline", "sources": [str(REPO / "datasets/example_raw.jsonl")],
             "recipe": {"steps": [{"step": "structure"}, {"step": "length", "params": {"min_words": 2}}]},
             "synth": {"mode": "both", "limit": 4, "settings": {"temperature": 0.5}},
             "mix": {"weights": {"data": 1, "synth": 0.5}, "balance": "examples", "budget": {"records": 40}}},
            {"name": "given", "version": "some-version"},
            {"name": "rl", "sources": [str(REPO / "datasets/example_prompts.jsonl")], "method": "grpo", "from": "inline"}]},
        root=REPO)


def ids_of(spec, runs: bool = True) -> dict[str, str]:
    out = {}
    configs = train_configs(spec)
    for v in spec.variants:
        out[f"build {v.name}"] = build_task(spec, v).id
        for seed in spec.seeds_for(v.name):
            init = f"run-{v.from_}-{seed}" if v.from_ else None
            out[f"train {v.name} {seed}"] = train_task(spec, v.name, f"ver-{v.name}", seed, configs[v.name], init).id
            if runs:
                out[f"run {v.name} {seed}"] = run_id_for(f"ver-{v.name}", "basehash", configs[v.name].resolved(),
                                                         "lora-fp32", seed, init)
            out[f"eval {v.name} {seed}"] = eval_task(spec, v.name, seed, f"run-{v.name}-{seed}").id
    if runs:
        out["eval base"] = eval_task(spec, BASE, None, spec.base).id
    return out


@pytest.mark.parametrize("example", sorted(k for k in PINNED if k.endswith(".yaml")))
def test_task_and_run_ids_of_the_examples_are_unchanged(example):
    # examples/NAME, or tests/fixtures/NAME: an example as it was when its ids were pinned
    got = ids_of(load_spec(REPO / "examples" / example if "/" not in example else REPO / "tests" / example))
    pinned = PINNED[example]
    assert {k: got[k] for k in pinned} == pinned


def test_task_ids_of_an_inline_recipe_synth_mix_and_a_version_variant_are_unchanged():
    got = ids_of(inline_spec(), runs=False)
    assert got == PINNED["inline"]


def _wire(task: Task) -> Task:
    return Task.from_dict(json.loads(json.dumps(task.to_dict())))  # through JSON, as to a child process or Ray


def test_every_kind_round_trips_through_the_wire_with_its_id_and_types():
    spec = inline_spec()
    configs = train_configs(spec)
    tasks = [build_task(spec, v) for v in spec.variants]
    tasks += [train_task(spec, "rl", "ver-rl", 1, configs["rl"], "run-x"), eval_task(spec, "rl", 1, "run-y")]
    for task in tasks:
        back = _wire(task)
        assert back.id == task.id and type(back.inputs) is type(task.inputs) and back.to_dict() == task.to_dict()
    inline = tasks[0].inputs
    assert isinstance(inline, BuildInputs) and inline.recipe.steps[1][1].min_words == 2
    assert inline.synth.mode == "both" and inline.mix.budget == {"records": 40} and inline.mix.balance == "examples"
    back = _wire(tasks[0]).inputs
    assert back.recipe == inline.recipe and back.synth == inline.synth and back.source_hashes == inline.source_hashes
    train = _wire(tasks[3]).inputs
    assert isinstance(train, TrainInputs) and train.config == configs["rl"] and train.config.method == "grpo"
    assert train.config.settings().num_generations == 2 and train.init_run == "run-x"
    assert isinstance(_wire(tasks[4]).inputs, EvalInputs) and _wire(tasks[4]).inputs.suites == ("think_follow",)
    # the wire mapping is what the catalog's `inputs` column has always held
    assert set(tasks[0].to_dict()["inputs"]) == {"name", "base", "sources", "recipe", "synth", "mix"}
    assert set(tasks[3].to_dict()["inputs"]) == {"version", "base", "config", "seed", "init_run"}
    assert tasks[0].to_dict()["hashed"] == {"sources": list(inline.source_hashes)}


def test_a_file_recipe_travels_with_its_file_and_the_same_name():
    spec = load_spec(REPO / "examples" / "quickstart.yaml")
    task = build_task(spec, spec.variant("curated"))
    assert task.inputs.recipe_file == str(REPO / "examples" / "recipes" / "default.yaml")
    assert _wire(task).inputs.recipe == task.inputs.recipe and task.inputs.recipe.name == "default"
    assert "recipe_file" not in task.inputs.identity() and "sources" not in task.inputs.identity()


def test_wire_inputs_from_another_version_are_refused_by_name():
    with pytest.raises(OutputError, match="TrainInputs: unknown field.s. lora_rank"):
        parse_inputs("train", {"version": "v", "base": "b", "config": {}, "seed": 0, "lora_rank": 8})
    with pytest.raises(OutputError, match="EvalInputs: missing field.s. layer"):
        parse_inputs("eval", {"target": "t", "suites": ["s"]})


def test_the_spec_is_resolved_once(monkeypatch):
    """Each recipe file is read once (not validated, dropped and re-read), and once the train
    configs are resolved, making every task of the ablation parses no train config again."""
    reads = []
    real = schema.read_config
    monkeypatch.setattr(schema, "read_config", lambda *a, **k: reads.append(a[0]) or real(*a, **k))
    schema._READ.clear()
    spec = load_spec(REPO / "examples" / "dpo.yaml")
    configs = train_configs(spec)
    parsed = []
    real_load = TrainConfig.load.__func__
    monkeypatch.setattr(TrainConfig, "load", classmethod(
        lambda cls, c: (parsed.append(c) if not isinstance(c, TrainConfig) else None) or real_load(cls, c)))
    for v in spec.variants:
        build_task(spec, v)
        for seed in spec.seeds_for(v.name):
            train_task(spec, v.name, "ver", seed, configs[v.name], "run-x" if v.from_ else None)
            eval_task(spec, v.name, seed, "run-y")
    assert parsed == []
    assert sorted(Path(p).name for p in reads) == ["default.yaml", "preferences.yaml"]  # one read each
    assert configs["sft-dpo"] == variant_train_config(spec, spec.variant("sft-dpo"), resolved_train_config(spec))
    assert configs["sft-dpo"].method == "dpo" and configs["sft"].method == "sft"


def test_an_eval_cap_on_new_tokens_is_in_the_id_only_when_set(tmp_path):
    """`eval.max_gen_toks` in a spec reaches the eval task; unset, the eval's id is what it always was."""
    plain = EvalInputs("base", ("gsm_style",), "smoke", 3)
    capped = EvalInputs("base", ("gsm_style",), "smoke", 3, max_gen_toks=16)
    assert "max_gen_toks" not in plain.to_dict() and plain.to_dict() == {
        "target": "base", "suites": ["gsm_style"], "layer": "smoke", "limit": 3}
    assert parse_inputs("eval", capped.to_dict()) == capped and capped.identity() != plain.identity()
    (tmp_path / "x.jsonl").write_text('{"instruction": "Say hi.", "output": "Hi."}\n')
    spec = parse_spec({"name": "cap", "base": "smollm2-135m-instruct", "seeds": [0],
                       "eval": {"suites": ["gsm_style"], "limit": 3, "max_gen_toks": 16},
                       "variants": [{"name": "v", "sources": ["x.jsonl"]}]}, root=tmp_path)
    assert eval_task(spec, "v", 0, "r1").inputs.max_gen_toks == 16
    with pytest.raises(Exception, match="max_gen_toks"):
        parse_spec({"name": "cap", "base": "smollm2-135m-instruct", "eval": {"suites": ["gsm_style"], "max_gen_toks": 0},
                    "variants": [{"name": "v", "sources": ["x.jsonl"]}]}, root=tmp_path)
