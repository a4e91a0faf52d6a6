"""Synthetic /think and /no_think generation: output checks, a real tiny teacher, resume."""

from pathlib import Path

import pytest

from workbench.ingest import ingest
from workbench.store import load_records
from workbench.synth.think import (
    SynthError,
    SynthSettings,
    Teacher,
    final_answer,
    shape_output,
    synthesize,
    with_mode_flag,
)

FIX = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(
    "text, mode, content, reason",
    [
        ("<think>2+2 is 4</think> The answer is 4.", "think", "<think>\n2+2 is 4\n</think>\nThe answer is 4.", None),
        ("2+2 is 4</think>\nIt is 4.", "think", "<think>\n2+2 is 4\n</think>\nIt is 4.", None),  # repaired opening tag
        ("The answer is 4.", "think", None, "think_block_missing"),
        ("<think>let me see, 2 and 2", "think", None, "think_block_unclosed"),
        ("<think>  </think> 4", "think", None, "think_block_empty"),
        ("<think>2+2=4</think>   ", "think", None, "empty_answer"),
        ("It is 4.", "no_think", "<think>\n\n</think>\nIt is 4.", None),
        ("<think></think>It is 4.", "no_think", "<think>\n\n</think>\nIt is 4.", None),
        ("<think>hmm 2+2</think>It is 4.", "no_think", None, "trace_in_no_think"),
        ("   ", "no_think", None, "empty_answer"),
    ],
)
def test_shape_output(text, mode, content, reason):
    checked = shape_output(text, mode, truncated=False)
    assert (checked.content, checked.reason) == (content, reason)


def test_truncated_output_is_dropped_and_no_think_block_is_optional():
    assert shape_output("<think>a</think>b", "think", truncated=True).reason == "truncated"
    assert shape_output("It is 4.", "no_think", truncated=False, empty_think_block=False).content == "It is 4."


def test_mode_flag_goes_at_the_end_of_the_system_prompt():
    msgs = with_mode_flag([{"role": "system", "content": "Be brief. /think"}, {"role": "user", "content": "q"}], "no_think")
    assert msgs[0] == {"role": "system", "content": "Be brief.\n\n/no_think"}
    assert with_mode_flag([{"role": "user", "content": "q"}], "think")[0] == {"role": "system", "content": "/think"}


def test_final_answer_extraction():
    assert final_answer("<think>3*4=12, maybe 13</think>\nSo 12.\n#### 1,200") == "1200"
    assert final_answer("<think>7</think>\nThe total is 42.") == "42"
    assert final_answer("no numbers") is None


class ScriptedTeacher(Teacher):
    """The real Teacher with its model call replaced by scripted answers, counting prompts.

    Used only where the subject is our caching and checks, not the model; the real model
    path runs in test_tiny_teacher_generates_and_truncation_is_caught and the e2e test.
    """

    calls: list = []
    fail_after: int | None = None

    def load(self):
        pass

    def generate(self, conversations):
        out = []
        for conv in conversations:
            if self.fail_after is not None and len(ScriptedTeacher.calls) >= self.fail_after:
                raise KeyboardInterrupt("simulated interruption")
            ScriptedTeacher.calls.append(conv)
            user = conv[-1]["content"]
            if conv[0]["content"].endswith("/think"):
                out.append([(f"<think>Let me work out: {user}</think>\nHere is my answer to: {user}", 20)])
            else:
                out.append([(f"Direct answer to: {user}", 8)])
        return out


def test_generation_writes_well_formed_records_and_resumes_without_regenerating(ws):
    src = ingest(ws, FIX / "alpaca.jsonl", name="src").version
    settings = {"batch_size": 2, "max_new_tokens": 64}
    ScriptedTeacher.calls = []
    ScriptedTeacher.fail_after = 3  # dies during the second batch of 2

    with pytest.raises(KeyboardInterrupt):
        synthesize(ws, "src", mode="both", name="syn", settings=settings, teacher_factory=ScriptedTeacher)
    assert len(ScriptedTeacher.calls) == 3
    assert ws.catalog().query("SELECT count(*) AS n FROM synth_generations")[0]["n"] == 2  # first batch stored
    assert not any(v["name"] == "syn" for v in ws.catalog().list_versions())

    ScriptedTeacher.calls, ScriptedTeacher.fail_after = [], None
    result = synthesize(ws, "src", mode="both", name="syn", settings=settings, teacher_factory=ScriptedTeacher)
    assert len(ScriptedTeacher.calls) == 4  # 3 prompts x 2 modes = 6, minus the 2 already stored
    assert result.generated == 4 and result.cached == 2 and result.kept == 6

    records = load_records(ws, "syn")
    think = [r for r in records if r.reasoning_mode == "think"]
    no_think = [r for r in records if r.reasoning_mode == "no_think"]
    assert len(think) == len(no_think) == 3
    for r in think:
        assert r.messages[0]["content"].endswith("/think")
        assert r.messages[-1]["content"].startswith("<think>\nLet me work out:") and "\n</think>\n" in r.messages[-1]["content"]
    for r in no_think:
        assert r.messages[0]["content"].endswith("/no_think")
        assert r.messages[-1]["content"].startswith("<think>\n\n</think>\nDirect answer")
    # think and no_think answers to the same prompt pair up through the prompt id
    assert {r.meta["prompt_id"] for r in think} == {r.meta["prompt_id"] for r in no_think} == {
        r.id for r in load_records(ws, src.id)
    }
    assert ws.catalog().parents(result.version.id)[0]["parent"] == src.id

    ScriptedTeacher.calls = []
    again = synthesize(ws, "src", mode="both", name="syn", settings=settings, teacher_factory=ScriptedTeacher)
    assert ScriptedTeacher.calls == [] and again.version.id == result.version.id and not again.version.created


def test_answer_check_drops_wrong_math_with_a_reason(ws):
    ingest(ws, FIX / "alpaca.jsonl", name="src")  # one record is "7 times 6 ... #### 42"
    ScriptedTeacher.calls, ScriptedTeacher.fail_after = [], None
    result = synthesize(ws, "src", mode="think", name="checked", check_answers=True, teacher_factory=ScriptedTeacher,
                        settings={"max_new_tokens": 64})
    assert result.removed == {"answer_mismatch": 1}
    removals = ws.catalog().removals(result.version.id)
    assert [r["reason"] for r in removals] == ["answer_mismatch"] and "expected 42" in removals[0]["detail"]


def test_tiny_teacher_generates_and_truncation_is_caught(ws, tiny_model_dir):
    """The real path: distilabel TextGeneration + transformers on a tiny random model.

    A random model never stops within 6 tokens, so every output hits the cap and the
    truncation check drops all of them, each with a removal reason; the generations are
    still stored, so the second call generates nothing.
    """
    ingest(ws, FIX / "alpaca.jsonl", name="src")
    settings = SynthSettings(max_new_tokens=6, batch_size=4)
    with pytest.raises(SynthError, match="truncated=6"):
        synthesize(ws, "src", mode="both", teacher=str(tiny_model_dir), name="tiny", settings=settings)
    rows = ws.catalog().query("SELECT mode, output_tokens FROM synth_generations")
    assert len(rows) == 6 and all(r["output_tokens"] >= 6 for r in rows)
    assert not any(v["name"] == "tiny" for v in ws.catalog().list_versions())


def test_bad_requests_fail_before_generating(ws, tmp_path):
    ingest(ws, FIX / "alpaca.jsonl", name="src")
    with pytest.raises(SynthError, match="cannot be loaded"):
        synthesize(ws, "src", teacher=str(tmp_path / "no-such-model"))
    with pytest.raises(SynthError, match="settings.max_new_tokens"):
        synthesize(ws, "src", settings={"max_new_tokens": 0})
    with pytest.raises(SynthError, match="mode must be"):
        synthesize(ws, "src", mode="sometimes")
    assert ws.catalog().query("SELECT count(*) AS n FROM synth_generations")[0]["n"] == 0


@pytest.mark.e2e
def test_bundled_smollm2_on_ten_prompts_in_both_modes(ws):
    import json

    path = ws.home / "ten.jsonl"
    questions = ["What is 3 + 4?", "Name a fruit.", "What is 10 - 6?", "Say hello.", "What colour is the sky?",
                 "What is 2 times 5?", "Name an animal.", "What is 9 + 1?", "What is the opposite of hot?",
                 "How many days are in a week?"]
    path.write_text("".join(json.dumps({"instruction": q, "output": "x"}) + "\n" for q in questions))
    ingest(ws, path, name="ten")
    result = synthesize(ws, "ten", mode="both", name="ten-synth", settings={"max_new_tokens": 256, "batch_size": 10})
    assert result.generated == 20
    records = load_records(ws, "ten-synth")
    assert records and all(r.reasoning_mode in ("think", "no_think") for r in records)
    for r in records:
        content = r.messages[-1]["content"]
        if r.reasoning_mode == "think":
            assert content.startswith("<think>\n") and "\n</think>\n" in content
        else:
            assert content.startswith("<think>\n\n</think>\n")
    assert result.kept + sum(result.removed.values()) == 20
