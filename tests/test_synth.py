"""Synthetic /think and /no_think generation: output checks, a real tiny teacher, resume."""

from pathlib import Path

import pytest

from workbench.data.ingest import ingest
from workbench.data.store import load_records
from workbench.synth.think import (
    SynthError,
    SynthSettings,
    Teacher,
    final_answer,
    shape_output,
    synthesize,
    teacher_conversation,
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
        ("let me think</think>It is 4.", "no_think", None, "trace_in_no_think"),
    ],
)
def test_shape_output(text, mode, content, reason):
    checked = shape_output(text, mode, truncated=False)
    assert (checked.content, checked.reason) == (content, reason)


@pytest.mark.parametrize(
    "text, content",
    [
        ("First, 2 and 2 make 4.\n\nSo the answer is 4.", "<think>\nFirst, 2 and 2 make 4.\n</think>\nSo the answer is 4."),
        ("<think>2 and 2\nmake 4\nIt is 4.", "<think>\n2 and 2\n\nmake 4\n</think>\nIt is 4."),  # unclosed
        ("The answer is 4.", None),  # one paragraph: nothing to split
    ],
)
def test_repair_splits_a_step_by_step_output_into_trace_and_answer(text, content):
    checked = shape_output(text, "think", truncated=False, repair_think=True)
    assert checked.content == content
    assert checked.repair == ("last_paragraph_is_answer" if content else None)
    assert shape_output(text, "think", truncated=False, repair_think=False).content is None


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


# What the scripted tiny teacher answers, per prompt and mode (see scripted_teacher below).
SCRIPT = {
    ("Name three primary colors.", "think"):
        "<think>\nPrimary colours cannot be mixed from other colours.\n</think>\nRed, yellow and blue.",
    ("Name three primary colors.", "no_think"): "Red, yellow and blue.",
    ("Translate to French.", "think"): "Bonjour",  # no trace at all: dropped in think mode
    ("Translate to French.", "no_think"): "Bonjour",
    ("What is 7 times 6?", "think"): "<think>\n7 times 6 is 42.\n</think>\nThe answer is 41.",  # wrong answer
    ("What is 7 times 6?", "no_think"): "The answer is 42.",
}


def scripted_teacher(tiny_model_dir: Path, out: Path, records) -> Path:
    """The tiny random model, steered to answer SCRIPT through its generation config.

    Same weights, tokenizer and generate call; only `sequence_bias` in generation_config.json
    adds a large bias to the next scripted token after each scripted prefix (the whole
    prompt, so the system prompt's /think or /no_think flag selects the answer). Everything
    between the dataset and the catalog is the real path: distilabel TextGeneration, our
    batched TransformersLLM, EOS detection, output-token counts, checks.
    """
    import shutil

    from transformers import AutoTokenizer, GenerationConfig

    out.mkdir()
    for f in tiny_model_dir.iterdir():
        if f.name != "generation_config.json":
            (out / f.name).symlink_to(f) if f.suffix == ".safetensors" else shutil.copy(f, out / f.name)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    bias = []
    for rec in records:
        for mode in ("think", "no_think"):
            prompt = tok.apply_chat_template(teacher_conversation(rec, mode), tokenize=False, add_generation_prompt=True)
            prefix = tok(prompt, add_special_tokens=False)["input_ids"]
            answer = tok(SCRIPT[(rec.messages[-2]["content"].split("\n")[0], mode)], add_special_tokens=False)["input_ids"]
            answer.append(tok.eos_token_id)
            bias += [[prefix + answer[:i + 1], 100.0] for i in range(len(answer))]
    config = GenerationConfig.from_pretrained(tiny_model_dir)
    config.sequence_bias = bias
    config.save_pretrained(out)
    return out


class CountingTeacher(Teacher):
    """The real Teacher, counting the conversations it is asked to answer; it can be made
    to die (like a kill) once `fail_after` conversations have been answered."""

    calls: list = []
    fail_after: int | None = None

    def generate(self, conversations):
        if self.fail_after is not None and len(CountingTeacher.calls) + len(conversations) > self.fail_after:
            raise KeyboardInterrupt("simulated interruption")
        CountingTeacher.calls += conversations
        return super().generate(conversations)


@pytest.fixture
def scripted(ws, tmp_path, tiny_model_dir):
    src = ingest(ws, FIX / "alpaca.jsonl", name="src").version
    CountingTeacher.calls, CountingTeacher.fail_after = [], None
    return src, str(scripted_teacher(tiny_model_dir, tmp_path / "scripted", load_records(ws, src.id)))


def test_tiny_teacher_writes_well_formed_records_and_resumes_without_regenerating(ws, scripted):
    src, teacher = scripted
    settings = {"batch_size": 2, "max_new_tokens": 48}
    CountingTeacher.fail_after = 2  # killed when the second batch of 2 starts

    with pytest.raises(KeyboardInterrupt):
        synthesize(ws, "src", mode="both", teacher=teacher, name="syn", settings=settings, teacher_factory=CountingTeacher)
    assert len(CountingTeacher.calls) == 2
    assert ws.catalog().query("SELECT count(*) AS n FROM synth_generations")[0]["n"] == 2  # first batch stored
    assert not any(v["name"] == "syn" for v in ws.catalog().list_versions())

    CountingTeacher.calls, CountingTeacher.fail_after = [], None
    result = synthesize(ws, "src", mode="both", teacher=teacher, name="syn", settings=settings,
                        teacher_factory=CountingTeacher)
    assert len(CountingTeacher.calls) == 4  # 3 prompts x 2 modes = 6, minus the 2 already stored
    assert result.generated == 4 and result.cached == 2
    assert result.kept == 5 and result.removed == {"think_block_missing": 1}

    records = load_records(ws, "syn")
    by = {(r.messages[-2]["content"].split("\n")[0], r.reasoning_mode): r for r in records}
    colors = by[("Name three primary colors.", "think")]
    assert colors.messages[0]["content"].endswith("/think")
    assert colors.messages[-1]["content"] == (
        "<think>\nPrimary colours cannot be mixed from other colours.\n</think>\nRed, yellow and blue.")
    plain = by[("Name three primary colors.", "no_think")]
    assert plain.messages[0]["content"].endswith("/no_think")
    assert plain.messages[-1]["content"] == "<think>\n\n</think>\nRed, yellow and blue."
    # stopped by itself well before the cap; settings and teacher recorded per record
    assert 0 < colors.meta["output_tokens"] < 48 and colors.meta["generation"]["max_new_tokens"] == 48
    assert colors.meta["teacher"] == teacher
    # think and no_think answers to the same prompt pair up through the prompt id
    assert colors.meta["prompt_id"] == plain.meta["prompt_id"] in {r.id for r in load_records(ws, src.id)}
    removal = ws.catalog().removals(result.version.id)
    assert [(r["step"], r["reason"]) for r in removal] == [("synth_think", "think_block_missing")]
    lineage = ws.catalog().parents(result.version.id)[0]
    assert lineage["parent"] == src.id

    CountingTeacher.calls = []
    again = synthesize(ws, "src", mode="both", teacher=teacher, name="syn", settings=settings,
                       teacher_factory=CountingTeacher)
    assert CountingTeacher.calls == [] and again.version.id == result.version.id and not again.version.created


def test_answer_check_drops_wrong_math_with_a_reason(ws, scripted):
    _, teacher = scripted
    result = synthesize(ws, "src", mode="both", teacher=teacher, name="checked", check_answers=True,
                        settings={"max_new_tokens": 48})
    assert result.removed == {"answer_mismatch": 1, "think_block_missing": 1}
    removals = {r["reason"]: r for r in ws.catalog().removals(result.version.id)}
    assert "expected 42, got 41" in removals["answer_mismatch"]["detail"]
    kept = load_records(ws, "checked")
    assert any(r.messages[-1]["content"].endswith("The answer is 42.") for r in kept)  # no_think got it right


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
    from workbench.data.records import make_record
    from workbench.data.store import save_version

    save_version(ws, [make_record([{"role": "system", "content": "Be kind."}, {"role": "assistant", "content": "Hi!"}])],
                 "no-users", "ingest")
    with pytest.raises(SynthError, match="no user turns"):
        synthesize(ws, "no-users")
    assert ws.catalog().query("SELECT count(*) AS n FROM synth_generations")[0]["n"] == 0
    assert {v["name"] for v in ws.catalog().list_versions()} == {"src", "no-users"}


@pytest.mark.e2e
def test_bundled_smollm2_on_ten_prompts_in_both_modes(ws):
    import json
    from collections import Counter

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
    assert any(r.reasoning_mode == "no_think" for r in records)
    print(f"\nSmolLM2 135M, 10 prompts x 2 modes: kept {result.kept}, removed {result.removed}, "
          f"kept by mode {dict(Counter(r.reasoning_mode for r in records))}")


def test_synth_cli_reports_kept_and_dropped_and_bad_teacher(ws, scripted, tmp_path):
    from tests.conftest import run_cli

    _, teacher = scripted
    out = run_cli("synth", "src", "--mode", "both", "--teacher", teacher, "--name", "cli-syn",
                  "--max-new-tokens", "48").stdout
    assert "cli-syn" in out and "kept 5" in out and "generated 6 now" in out and "think_block_missing" in out
    bad = run_cli("synth", "src", "--teacher", str(tmp_path / "missing"), check=False)
    assert bad.returncode != 0 and "cannot be loaded" in bad.stdout + bad.stderr
    assert "Traceback" not in bad.stderr
