"""Preference pairs and prompt-only rows: ingest of each shape, curation, real DPO and GRPO steps
on the tiny model (SFT -> DPO lineage, per-reward means), synth on prompts, and an ablation with a
dpo variant compared like an SFT one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.ablate_helpers import write_data
from tests.test_synth import CountingTeacher, scripted  # noqa: F401 - the scripted teacher fixture
from workbench.data.ingest import IngestError, ingest
from workbench.data.records import make_record
from workbench.data.store import export_version, load_records, save_version
from workbench.train import TrainError, train
from workbench.train.config import TrainConfig

REPO = Path(__file__).resolve().parents[1]
FAST = {"max_steps": 2, "batch_size": 2, "save_steps": 2, "sanity_prompts": 1, "sanity_max_new_tokens": 4, "max_length": 96}
Q = "What is 3 plus 4?"


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _pairs(n: int = 6) -> list:
    return [make_record([{"role": "user", "content": f"What is {i} plus {i}?"}, {"role": "assistant", "content": f"{2 * i}."}],
                        rejected=f"{2 * i + 1}.") for i in range(n)]


def _prompts(n: int = 4) -> list:
    modes = ("think", "no_think")
    return [make_record([{"role": "system", "content": f"/{modes[i % 2]}"}, {"role": "user", "content": f"What is {i} plus {i}?"}],
                        reasoning_mode=modes[i % 2], meta={"answer": str(2 * i)}, prompt_only=True)
            for i in range(n)]


# --- ingest ----------------------------------------------------------------------------------


def test_each_preference_shape_ingests_to_the_same_pair_and_round_trips(ws, tmp_path):
    user, good, bad = {"role": "user", "content": Q}, {"role": "assistant", "content": "7"}, {"role": "assistant", "content": "8"}
    path = _jsonl(tmp_path / "pairs.jsonl", [
        {"prompt": Q, "chosen": "7", "rejected": "8", "score_chosen": 9},
        {"prompt": Q, "chosen": [user, good], "rejected": [user, bad]},  # UltraFeedback-binarized
        {"prompt": [user], "chosen": [good], "rejected": [bad]},  # TRL conversational
        {"messages": [user], "chosen": "7", "rejected": good | {"content": "8"}},  # messages prefix
    ])
    res = ingest(ws, path, name="pairs")
    assert res.formats == {"preference": 3, "messages_preference": 1}
    recs = load_records(ws, "pairs")
    assert {r.kind for r in recs} == {"preference"} and all(r.messages == [user, good] and r.rejected == "8" for r in recs)
    assert recs[0].meta == {"score_chosen": 9} and [r.meta.get("repeat_of") for r in recs[1:]] == [recs[0].id] * 3
    assert ws.catalog().resolve_version("pairs")["stats"]["kind"] == "preference"
    # the id is content: the rejected turn is part of it; an SFT record's id is unchanged by it
    assert recs[0].id != make_record([user, good]).id
    again = ingest(ws, export_version(ws, "pairs", tmp_path / "out.jsonl"), name="again").version
    assert again.id == res.version.id


def test_prompt_only_rows_ingest_and_bad_rows_name_their_line(ws, tmp_path):
    plain = _jsonl(tmp_path / "q.jsonl", [{"prompt": Q, "answer": "7"}, {"prompt": "Hi?", "system": "/think"}])
    recs = load_records(ws, ingest(ws, plain, name="q").version.id)
    assert [r.kind for r in recs] == ["prompt", "prompt"] and recs[0].meta == {"answer": "7"}
    assert recs[1].messages[0] == {"role": "system", "content": "/think"} and recs[1].reasoning_mode == "think"
    msgs = _jsonl(tmp_path / "m.jsonl", [{"messages": [{"role": "user", "content": Q}]}])
    with pytest.raises(IngestError, match=r"m.jsonl:1: no assistant turn \(for prompt-only data use --format prompts\)"):
        ingest(ws, msgs, name="m")
    assert load_records(ws, ingest(ws, msgs, name="m", fmt="prompts").version.id)[0].kind == "prompt"
    cases = {
        "mixed.jsonl": ([{"prompt": Q}, {"prompt": Q, "completion": "7"}], "mixed.jsonl:2: a sft row in a file of prompt rows (the first at"),
        "chosen.jsonl": ([{"prompt": Q, "chosen": [{"role": "user", "content": Q}], "rejected": "8"}],
                         "chosen.jsonl:1: chosen: the last message must be the assistant's completion"),
        "differ.jsonl": ([{"prompt": Q, "chosen": [{"role": "user", "content": Q}, {"role": "assistant", "content": "7"}],
                           "rejected": [{"role": "user", "content": "other"}, {"role": "assistant", "content": "8"}]}],
                         "differ.jsonl:1: chosen and rejected conversations differ before their final turn"),
    }
    for name, (rows, message) in cases.items():
        n = len(ws.catalog().list_versions())
        with pytest.raises(IngestError) as e:
            ingest(ws, _jsonl(tmp_path / name, rows), name="bad")
        assert message in str(e.value) and len(ws.catalog().list_versions()) == n


def test_preference_recipe_removes_equal_pairs_and_repeats_with_reasons(ws):
    from workbench.curate.recipe import curate

    ingest(ws, REPO / "datasets" / "example_preferences.jsonl", name="prefs")
    res = curate(ws, "prefs", REPO / "examples" / "recipes" / "preferences.yaml", "prefs-clean")
    reasons = sorted((r["step"], r["reason"]) for r in ws.catalog().removals(res.version.id))
    assert reasons == [("exact_dedup", "exact_duplicate_conversation")] + [("pair_equal", "chosen_equals_rejected")] * 2
    kept = load_records(ws, res.version.id)
    assert len(kept) == 37 and all(r.kind == "preference" and r.chosen != r.rejected.strip() for r in kept)


# --- training ----------------------------------------------------------------------------------


def test_each_method_refuses_the_wrong_kind_of_data_before_any_run(ws, tiny_model_dir):
    prompts = save_version(ws, _prompts(), "prompts", "ingest").id
    with pytest.raises(TrainError, match="prompt-only records .*workbench synth --data prompts"):
        train(ws, prompts, str(tiny_model_dir), FAST, progress=False)
    with pytest.raises(TrainError, match="dpo trains on preference records.*SFT conversations"):
        train(ws, save_version(ws, [make_record([{"role": "user", "content": Q}, {"role": "assistant", "content": "7"}])],
                               "sft", "ingest").id, str(tiny_model_dir), FAST, progress=False, method="dpo")
    with pytest.raises(TrainError, match="grpo.rewards: ifeval needs `instruction_id_list` and `kwargs`"):
        train(ws, prompts, str(tiny_model_dir), {**FAST, "grpo": {"rewards": ["ifeval"], "num_generations": 2}},
              progress=False, method="grpo")
    with pytest.raises(TrainError, match=r"grpo.num_generations: 4 must divide batch_size x grad_accum \(2 x 1\)"):
        TrainConfig.load(FAST).with_method("grpo")
    assert ws.catalog().list_runs() == []
    # an SFT config's resolved settings (its run id) carry no method keys
    assert not {"method", "dpo", "grpo"} & set(TrainConfig.load(FAST).resolved())
    assert set(TrainConfig.load({**FAST, "method": "dpo"}).resolved()) >= {"method", "dpo"}


def test_dpo_starts_from_an_sft_run_and_records_margins(ws, tiny_model_dir):
    from workbench.train import run_id_for

    sft_data = save_version(ws, [make_record(r.messages) for r in _pairs()], "sft", "ingest").id
    sft = train(ws, sft_data, str(tiny_model_dir), {**FAST, "max_steps": 1}, progress=False)
    pairs = save_version(ws, _pairs(), "pairs", "ingest").id
    dpo = train(ws, pairs, str(tiny_model_dir), {**FAST, "dpo": {"beta": 0.2}}, progress=False, method="dpo",
                init_run=sft.id[:8])
    cat = ws.catalog()
    row = cat.get_run(dpo.id)
    assert row["status"] == "finished" and row["config"]["method"] == "dpo" and row["config"]["dpo"]["beta"] == 0.2
    assert row["meta"]["init_run"] == sft.id and "frozen" in row["meta"]["reference"]
    steps = [s for s in cat.run_steps(dpo.id) if s["loss"] is not None]
    assert [s["step"] for s in steps] == [1, 2]
    assert all({"rewards/margins", "rewards/accuracies", "logps/chosen"} <= set(s["metrics"]) for s in steps)
    assert (dpo.adapter_dir / "adapter_model.safetensors").exists() and not (dpo.adapter_dir / "ref").exists()
    # lineage is part of the id: the same DPO from the base is another run; asking again reuses this one
    ident = json.loads((dpo.run_dir / "config.json").read_text())
    assert ident["init_run"] == sft.id
    assert dpo.id != run_id_for(pairs, ident["base"]["hash"], row["config"], row["mode"], 0)
    assert train(ws, pairs, str(tiny_model_dir), {**FAST, "dpo": {"beta": 0.2}}, progress=False, method="dpo",
                 init_run=sft.id).reused


def test_grpo_trains_on_prompts_with_suite_rewards_per_step(ws, tiny_model_dir):
    prompts = save_version(ws, _prompts(), "prompts", "ingest").id
    cfg = {**FAST, "grpo": {"rewards": ["gsm_answer", "think_format"], "num_generations": 2, "max_completion_length": 4}}
    r = train(ws, prompts, str(tiny_model_dir), cfg, progress=False, method="grpo")
    cat = ws.catalog()
    steps = [s for s in cat.run_steps(r.id) if s["loss"] is not None]
    assert [s["step"] for s in steps] == [1, 2]
    for s in steps:  # per-reward means beside the loss, each a fraction (the scorers give 0/1)
        assert 0 <= s["metrics"]["rewards/gsm_answer/mean"] <= 1
        assert "rewards/think_format/mean" in s["metrics"] and "reward" in s["metrics"]
    assert cat.get_run(r.id)["meta"]["rewards"] == ["gsm_answer", "think_format"]


def test_rewards_are_the_suites_scorers():
    from workbench.evals import scoring
    from workbench.train.rewards import REWARDS, trl_reward

    gsm = trl_reward(REWARDS["gsm_answer"])
    texts = ["3 + 4 = 7.\n#### 7", "It is 8.", ""]
    assert gsm([[]] * 3, [[{"role": "assistant", "content": t}] for t in texts], answer=["7"] * 3, prompt_text=[Q] * 3) == [
        scoring.gsm_scores({"answer": "7"}, t)["flexible_extract"] for t in texts] == [1.0, 0.0, 0.0]
    think = trl_reward(REWARDS["think_format"])
    outs = think([[]] * 3, ["<think>\nx\n</think>\ny", "y", "y"], mode=["think", "think", ""], prompt_text=[Q] * 3)
    assert outs == [1.0, 0.0, None]  # a row without a mode is not scored
    doc = {"instruction_id_list": json.dumps(["change_case:english_lowercase"]), "kwargs": json.dumps([{}])}
    ife = trl_reward(REWARDS["ifeval"])
    assert ife([[]] * 2, ["all lowercase here.", "Not Lower."], prompt_text=["Write in lowercase."] * 2,
               **{k: [v] * 2 for k, v in doc.items()}) == [1.0, 0.0]
    assert gsm.__name__ == "gsm_answer"  # TRL logs rewards/<name>/mean


def test_synth_answers_a_prompt_only_version(ws, scripted):  # noqa: F811
    from workbench.synth.think import SynthSettings, synthesize

    src, teacher = scripted
    questions = [make_record([m for m in r.messages if m["role"] != "assistant"], prompt_only=True)
                 for r in load_records(ws, src.id)]
    save_version(ws, questions, "questions", "ingest")
    res = synthesize(ws, "questions", mode="no_think", teacher=teacher, name="answered",
                     settings=SynthSettings(max_new_tokens=48, batch_size=4), teacher_factory=CountingTeacher)
    answered = load_records(ws, res.version.id)
    assert res.kept == len(answered) > 0 and all(r.kind == "sft" and r.reasoning_mode == "no_think" for r in answered)
    assert {r.meta["prompt_id"] for r in answered} <= {q.id for q in questions}


# --- ablation ----------------------------------------------------------------------------------


def test_ablation_with_a_dpo_variant_from_an_sft_variant(ws, tmp_path, tiny_model_dir):
    from workbench.ablate import run_ablation
    from workbench.ablate.spec import SpecError, parse_spec
    from workbench.report import report_data

    data = write_data(tmp_path / "data")
    spec = {"name": "prefs", "base": str(tiny_model_dir), "seeds": [0], "baseline": "sft",
            "train": {"max_steps": 1, "batch_size": 2, "max_length": 96, "sanity_prompts": 0},
            "eval": {"suites": ["arith_choice"], "layer": "smoke", "limit": 2},  # likelihood only: no generation
            "variants": [{"name": "sft-dpo", "sources": [str(REPO / "datasets" / "example_preferences.jsonl")],
                          "recipe": {"steps": [{"step": "pair_equal"}]}, "method": "dpo", "from": "sft"},
                         {"name": "sft", "sources": [str(data["math"])]}]}
    for change, message in [({"from": "nope"}, "from 'nope' is not a variant"), ({"from": "sft-dpo"}, "`from` loops"),
                            ({"method": "ppo"}, "unknown training method 'ppo'")]:
        bad = {**spec, "variants": [{**spec["variants"][0], **change}, spec["variants"][1]]}
        with pytest.raises(SpecError, match=message):
            parse_spec(bad)
    path = tmp_path / "prefs.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = run_ablation(ws, path)
    assert not result.failures, [(o.task.label, o.error) for o in result.failures]
    trains = {o.task.variant: o for o in result.outcomes if o.task.kind == "train"}
    assert [o.task.variant for o in result.outcomes if o.task.kind == "train"] == ["sft", "sft-dpo"]  # from first
    assert trains["sft-dpo"].task.inputs.init_run == trains["sft"].output.run_id
    assert trains["sft-dpo"].task.inputs.config.method == "dpo" and "method" not in trains["sft"].task.inputs.to_dict()["config"]
    report = report_data(ws, "prefs")
    assert any(c.a == "sft" and c.b == "sft-dpo" for c in report.comparisons)  # compared like any variant
    assert {r["variant"] for r in report.runs} == {"sft", "sft-dpo"}


def test_methods_and_rewards_refuse_a_taken_name():
    from workbench.core.registry import RegistryError
    from workbench.train.methods import METHODS, Method, get_method, register_method
    from workbench.train.rewards import REWARDS, Reward, register_reward

    first = METHODS["dpo"]
    with pytest.raises(RegistryError, match="training method 'dpo' is already registered"):
        register_method(Method("dpo", "preference", "x:y", "x:z"))
    with pytest.raises(RegistryError, match="reward 'gsm_answer' is already registered"):
        register_reward(Reward("gsm_answer", ("answer",), lambda row, text: 1.0))
    assert METHODS["dpo"] is first and REWARDS["gsm_answer"].needs == ("answer",)
    with pytest.raises(TrainError, match="unknown training method 'ppo'; known: sft, dpo, grpo"):
        get_method("ppo")
