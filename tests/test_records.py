"""The record schema and format adapters."""

import pytest

from workbench.data.records import (
    ADAPTERS,
    RecordError,
    convert_row,
    detect_format,
    make_record,
    unique_ids,
)
from workbench.core.hashing import record_id


def test_alpaca_with_input_joins_prompt():
    row = {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour"}
    assert detect_format(row) == "alpaca"
    rec = convert_row(row, "alpaca", default_source="demo")
    assert rec.messages == [
        {"role": "user", "content": "Translate to French.\n\nGood morning"},
        {"role": "assistant", "content": "Bonjour"},
    ]
    assert rec.source == "demo" and rec.reasoning_mode is None


def test_sharegpt_maps_speakers_and_system():
    row = {"system": "Be terse.", "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]}
    assert detect_format(row) == "sharegpt"
    rec = convert_row(row, "sharegpt")
    assert [m["role"] for m in rec.messages] == ["system", "user", "assistant"]
    assert rec.n_turns == 2


def test_sharegpt_unknown_speaker_is_an_error():
    row = {"conversations": [{"from": "human", "value": "Hi"}, {"from": "alien", "value": "zzz"}]}
    with pytest.raises(RecordError, match="unknown speaker 'alien'"):
        convert_row(row, "sharegpt")


def test_smoltalk2_enable_thinking_maps_to_reasoning_mode():
    think = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>\nx\n</think>\na"}],
             "chat_template_kwargs": {"enable_thinking": True}}
    no_think = {**think, "chat_template_kwargs": {"enable_thinking": False, "custom_instructions": "Be kind."}}
    assert detect_format(think) == "smoltalk2"
    assert convert_row(think, "smoltalk2").reasoning_mode == "think"
    rec = convert_row(no_think, "smoltalk2")
    assert rec.reasoning_mode == "no_think"
    assert rec.messages[0] == {"role": "system", "content": "Be kind."}
    assert rec.meta["chat_template_kwargs"]["enable_thinking"] is False


def test_messages_mode_from_system_flag():
    row = {"messages": [{"role": "system", "content": "Answer briefly. /no_think"}, {"role": "user", "content": "q"},
                        {"role": "assistant", "content": "a"}]}
    assert convert_row(row, "messages").reasoning_mode == "no_think"


def test_prompt_completion_plain_and_conversational():
    assert convert_row({"prompt": "p", "completion": "c"}, "prompt_completion").messages[1]["content"] == "c"
    conv = {"prompt": [{"role": "user", "content": "p"}], "completion": [{"role": "assistant", "content": "c"}]}
    assert len(convert_row(conv, "prompt_completion").messages) == 2


def test_unknown_format_lists_formats_and_keys():
    with pytest.raises(RecordError) as e:
        detect_format({"question": "q", "answer_text": "a"})
    msg = str(e.value)
    assert "keys seen: ['answer_text', 'question']" in msg
    for name in ADAPTERS:
        assert name in msg


@pytest.mark.parametrize(
    "messages, match",
    [
        ([{"role": "user", "content": "hi"}, {"role": "robot", "content": "x"}], "unknown role 'robot'"),
        ([{"role": "user", "content": "hi"}], "no assistant turn"),
        ([], "no messages"),
        ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": 5}], "content is int"),
    ],
)
def test_invalid_messages(messages, match):
    with pytest.raises(RecordError, match=match):
        make_record(messages)


def test_id_is_content_hash_and_repeats_get_distinct_stable_ids():
    msgs = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    a, b = make_record(msgs, source="x"), make_record(msgs, source="y")
    assert a.id == b.id == record_id(msgs, None)  # the source is provenance, not content
    assert make_record(msgs, reasoning_mode="think").id != a.id
    first = [r.id for r in unique_ids([a, b, a])]
    again = [r.id for r in unique_ids([a, b, a])]
    assert first == again and len(set(first)) == 3 and first[0] == a.id


def test_derived_counts():
    rec = make_record([{"role": "system", "content": "s"}, {"role": "user", "content": "abc"},
                       {"role": "assistant", "content": "de"}])
    assert rec.n_turns == 2 and rec.n_chars == 6 and rec.prompt() == "abc" and rec.assistant_text() == "de"


def test_token_counts_use_a_named_tokenizer():
    from workbench.core.models import load_tokenizer

    rec = make_record([{"role": "user", "content": "Hello world"}, {"role": "assistant", "content": "Hi there friend"}])
    tok = load_tokenizer("smollm2-135m-instruct")
    expected = len(tok("Hello world", add_special_tokens=False)["input_ids"]) + len(
        tok("Hi there friend", add_special_tokens=False)["input_ids"]
    )
    assert rec.n_tokens(tok) == expected > 0
