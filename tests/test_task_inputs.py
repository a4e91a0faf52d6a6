"""Typed task inputs (issue 23 §2): the spec resolved once into BuildInputs / TrainInputs /
EvalInputs, the same plain mapping on the wire, and task ids and run ids exactly as before.

The ids below were computed on main before the inputs were typed (commit d865a6c: `Task.inputs`
a dict, the train config resolved per call, the recipe re-read with yaml.safe_load). Train and
run ids use a fixed version id per variant (the build's output) and a fixed base model hash. The
build ids of variants that `shapley.yaml` and `strategies.yaml` (the example as it was then, kept in
tests/fixtures/) generate are left out: their
recipes are curation steps with every default filled in, so they follow the filters' defaults."""

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
              'run sft 0': '6a58e6f2cceab145',
              'run sft-dpo 0': '0ad5882b423cebdd',
              'train sft 0': 'train-92695c3233a62f3d',
              'train sft-dpo 0': 'train-86af04df6c2486a2'},
 'grpo.yaml': {'build sft': 'build-a49b744b1d0d28f7',
               'build sft-grpo': 'build-6568c39b70c90f24',
               'eval base': 'eval-cdb2b95cd4038079',
               'eval sft 0': 'eval-c1a6821089715ed1',
               'eval sft-grpo 0': 'eval-2ef1e8f61ce71e53',
               'run sft 0': '6a58e6f2cceab145',
               'run sft-grpo 0': '56439a78bbb5829b',
               'train sft 0': 'train-92695c3233a62f3d',
               'train sft-grpo 0': 'train-466f0179e4760d7d'},
 'inline': {'build given': 'build-eb9b40883922e2ea',
            'build inline': 'build-9b8d22369881cd71',
            'build rl': 'build-d67d13bf467602aa',
            'eval given 0': 'eval-be59446b4688ea88',
            'eval given 1': 'eval-b3590050d8600dbb',
            'eval inline 0': 'eval-1e522c1657d26bee',
            'eval inline 1': 'eval-7210b2a39e98f170',
            'eval rl 0': 'eval-365b0a23f0933c8b',
            'eval rl 1': 'eval-231b80ea227c197a',
            'train given 0': 'train-22efb4cdfdfcf6b2',
            'train given 1': 'train-c3194a3c0f2f604b',
            'train inline 0': 'train-14248a103f8fb449',
            'train inline 1': 'train-050e45730250fc15',
            'train rl 0': 'train-8efb011395776a84',
            'train rl 1': 'train-f656918a81cb479b'},
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
                         'run mix.corner-formatting 0': '41a0a0aec58faeae',
                         'run mix.corner-general 0': '4eb4f2813d8dac40',
                         'run mix.corner-math 0': 'b7ca382f2afc7d90',
                         'run mix.corner-reasoning 0': 'e7c4dcc8166134a2',
                         'run mix.m05 0': '913aee21aecc5301',
                         'run mix.m06 0': '37fa619cc839224d',
                         'run mix.m07 0': '2a21a75493235972',
                         'run mix.natural 0': 'a7225fbe50bf7e4d',
                         'train mix.corner-formatting 0': 'train-9b0cea737480b401',
                         'train mix.corner-general 0': 'train-df8c7e205eddebaa',
                         'train mix.corner-math 0': 'train-3b7fabcffd84fd8b',
                         'train mix.corner-reasoning 0': 'train-5520bb5c61fc60e8',
                         'train mix.m05 0': 'train-5b0a539a0db6b0d6',
                         'train mix.m06 0': 'train-2855298132281b42',
                         'train mix.m07 0': 'train-a27685413abacadc',
                         'train mix.natural 0': 'train-35c0273d2e4bb272'},
 'quickstart.yaml': {'build curated': 'build-4abdaca9ffee4ecf',
                     'build no-reasoning': 'build-0bd8066b32090f52',
                     'eval base': 'eval-a02e9f9c4f582098',
                     'eval curated 0': 'eval-3032a007ec9fb4d8',
                     'eval no-reasoning 0': 'eval-8ae03df985bb78a1',
                     'eval no-reasoning 1': 'eval-0c095fb9e2ac1a0b',
                     'run curated 0': '2cba305f7cee14ec',
                     'run no-reasoning 0': 'a4407bf7af0c26ff',
                     'run no-reasoning 1': '2a6ee69cbac04045',
                     'train curated 0': 'train-bf54536655a15398',
                     'train no-reasoning 0': 'train-8d1f4f4fc9929983',
                     'train no-reasoning 1': 'train-05aa2d6a8d6abd03'},
 'shapley.yaml': {'eval base': 'eval-22178c66a3b17ecb',
                  'eval shapley.all 0': 'eval-979ad5ef24b33781',
                  'eval shapley.all 1': 'eval-eb553c0a092c11c3',
                  'eval shapley.minhash_dedup 0': 'eval-c856bf4e29f21f0d',
                  'eval shapley.minhash_dedup 1': 'eval-e7962e16994b35af',
                  'eval shapley.none 0': 'eval-de22062f62c0c202',
                  'eval shapley.none 1': 'eval-c466347ac258f33a',
                  'eval shapley.reasoning_format 0': 'eval-b76b87ae0da7495d',
                  'eval shapley.reasoning_format 1': 'eval-b4825ab983d38ef4',
                  'run shapley.all 0': '297c2ea382240362',
                  'run shapley.all 1': '2c326de5e6dba5e0',
                  'run shapley.minhash_dedup 0': '1dce81acd8a4198c',
                  'run shapley.minhash_dedup 1': '3dedfb4c68a42801',
                  'run shapley.none 0': '5e2c75672cef88ef',
                  'run shapley.none 1': '5fdc2b7a2c0cad6b',
                  'run shapley.reasoning_format 0': '2ffcb5122c7d68b8',
                  'run shapley.reasoning_format 1': 'f2fb616e6566efb7',
                  'train shapley.all 0': 'train-8e8f84acc141e467',
                  'train shapley.all 1': 'train-f182ac43eea9767f',
                  'train shapley.minhash_dedup 0': 'train-06f266ac6cfc261a',
                  'train shapley.minhash_dedup 1': 'train-ba5de74550349eb7',
                  'train shapley.none 0': 'train-a8454aabdd9c8f2e',
                  'train shapley.none 1': 'train-5cae6ef11e7090e1',
                  'train shapley.reasoning_format 0': 'train-1df9992c8aa2b46c',
                  'train shapley.reasoning_format 1': 'train-6968fcf23d051ea0'},
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
                     'run step.full 0': '37ad8f3bcd26d629',
                     'run step.full.c0 0': '81a008c4e818eb09',
                     'run step.full.c1 1': 'c8ab5f4516e67a1a',
                     'run step.only-minhash_dedup 0': 'a1c926e874cad318',
                     'run step.only-minhash_dedup.c0 0': '2cf04d22da0dac39',
                     'run step.only-minhash_dedup.c1 1': '3303fbe1c9e116ae',
                     'run step.only-reasoning_format 0': '02f326338aa00b92',
                     'run step.only-reasoning_format.c0 0': '93ee2b08a628d540',
                     'run step.only-reasoning_format.c1 1': 'd075aa6049208321',
                     'run step.source 0': 'fbbb5298b0bd21af',
                     'train step.full 0': 'train-35c49a87ab8ad1ac',
                     'train step.full.c0 0': 'train-1ed8f44899dd1336',
                     'train step.full.c1 1': 'train-b3bd0bd5f1ce4ae6',
                     'train step.only-minhash_dedup 0': 'train-3f5865154b771df4',
                     'train step.only-minhash_dedup.c0 0': 'train-cc73462b7812ecb6',
                     'train step.only-minhash_dedup.c1 1': 'train-1f21bc0c5f32e21b',
                     'train step.only-reasoning_format 0': 'train-d65c94cc0e3d4921',
                     'train step.only-reasoning_format.c0 0': 'train-6de1646a921a32d5',
                     'train step.only-reasoning_format.c1 1': 'train-e08943cc56d301cc',
                     'train step.source 0': 'train-ef8e01b59d7c140c'}}


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
