"""Scoring of the bundled suites on hand-written responses whose scores are known.

ifeval_style: one passing and one failing response per instruction type, and item-by-item
agreement with lm-eval's own IFEval functions. gsm_style: strict vs flexible extraction.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.evals import scoring

REPO = Path(__file__).resolve().parents[1]


def doc(iid: str, kwargs: dict | None = None, prompt: str = "Write about a garden.") -> dict:
    return {"id": "t", "key": 1, "prompt": prompt, "instruction_id_list": [iid], "kwargs": [kwargs or {}]}


LONG = " ".join(["The garden grows slowly in the warm sun."] * 6)

# (instruction id, kwargs, a response that follows it, a response that does not)
CASES = [
    ("change_case:english_lowercase", {}, "thank you for the wonderful day. i loved the flowers and the music.",
     "Thank you for the wonderful day. I loved the flowers and the music."),
    ("change_case:english_capital", {}, "THANK YOU FOR THE WONDERFUL DAY. I LOVED THE FLOWERS AND THE MUSIC.",
     "THANK YOU FOR THE WONDERFUL DAY. I loved the flowers and the music."),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "at least"},
     "The GARDEN is VERY green.", "The garden is very green."),
    ("punctuation:no_comma", {}, "Roses and tulips grow here.", "Roses, tulips and lilies grow here."),
    ("length_constraints:number_words", {"num_words": 10, "relation": "less than"}, "A small green garden.", LONG),
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": "less than"},
     "Dr. Lee planted roses. They bloomed.", "One. Two. Three. Four."),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "First part.\n***\nSecond part.",
     "Only one paragraph here."),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "river"},
     "The garden is calm.\n\nRiver water feeds it.", "The garden is calm.\n\nWater feeds it."),
    ("keywords:existence", {"keywords": ["lantern", "meadow"]}, "A lantern hangs over the meadow.",
     "A lamp hangs over the field."),
    ("keywords:frequency", {"keyword": "rose", "frequency": 3, "relation": "at least"},
     "Rose after rose, a rose garden.", "A rose garden."),
    ("keywords:forbidden_words", {"forbidden_words": ["very", "nice"]}, "The garden is lovely.",
     "The garden is very nice."),
    ("keywords:letter_frequency", {"letter": "z", "let_frequency": 2, "let_relation": "at least"},
     "Zinnias buzz with bees.", "Roses grow here."),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name], meet me at [place].",
     "Dear friend, meet me at [place]."),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "See you soon.\nP.S. Bring seeds.",
     "See you soon."),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* roses\n* tulips", "* roses\n* tulips\n* lilies"),
    ("detectable_format:constrained_response", {}, "My answer is yes.", "Yes, definitely."),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2},
     "The *first part* and the *second part*.", "Nothing highlighted."),
    ("detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 2},
     "Section 1\nSoil.\nSection 2\nWater.", "Soil and water."),
    ("detectable_format:json_format", {}, '```json\n{"garden": "green"}\n```', "garden: green"),
    ("detectable_format:title", {}, "<<A Green Garden>>\nRoses grow.", "A Green Garden\nRoses grow."),
    ("combination:two_responses", {}, "Roses grow.\n******\nTulips bloom.", "Roses grow."),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write about a garden."},
     "Write about a garden. Roses grow there.", "Roses grow there."),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Roses grow. Any other questions?",
     "Any other questions? Roses grow."),
    ("startend:quotation", {}, '"Roses grow in the garden."', "Roses grow in the garden."),
    ("language:response_language", {"language": "fr"},
     "Le jardin est très beau et les fleurs poussent au printemps.",
     "The garden is very beautiful and the flowers grow in spring."),
]


@pytest.mark.parametrize("iid,kwargs,good,bad", CASES, ids=[c[0] for c in CASES])
def test_ifeval_each_instruction_type(iid, kwargs, good, bad):
    d = doc(iid, kwargs, prompt=kwargs.get("prompt_to_repeat", "Write about a garden.") + " Extra instruction.")
    s_good, s_bad = scoring.ifeval_scores(d, good), scoring.ifeval_scores(d, bad)
    assert s_good["prompt_level_strict_acc"] == 1.0 and s_good["inst_level_strict_acc"] == 1.0, (iid, good)
    assert s_bad["prompt_level_strict_acc"] == 0.0 and s_bad["inst_level_strict_acc"] == 0.0, (iid, bad)
    assert s_good["prompt_level_loose_acc"] == 1.0


def test_ifeval_covers_at_least_15_types():
    assert len({c[0] for c in CASES}) >= 15


def test_ifeval_loose_forgives_markdown_and_a_first_line():
    d = doc("change_case:english_lowercase")
    s = scoring.ifeval_scores(d, "Sure! Here it is:\nthank you for the wonderful day. i loved the flowers and the music.")
    assert s["prompt_level_strict_acc"] == 0.0 and s["prompt_level_loose_acc"] == 1.0
    d = doc("startend:end_checker", {"end_phrase": "Any other questions?"})
    s = scoring.ifeval_scores(d, "Roses grow. **Any other questions?**")
    assert s["prompt_level_strict_acc"] == 0.0 and s["prompt_level_loose_acc"] == 1.0


def test_ifeval_prompt_and_instruction_levels_with_two_instructions():
    d = {"id": "x", "key": 1, "prompt": "Write.", "instruction_id_list": ["punctuation:no_comma", "startend:quotation"],
         "kwargs": json.dumps([{}, {}])}  # kwargs as stored in the lm-eval dataset (JSON text)
    s = scoring.ifeval_scores(d, "Roses, tulips.")
    assert s["prompt_level_strict_acc"] == 0.0 and s["inst_level_strict_acc"] == 0.0
    s = scoring.ifeval_scores(d, "Roses and tulips.")
    assert s["prompt_level_strict_acc"] == 0.0 and s["inst_level_strict_acc"] == 0.5
    s = scoring.ifeval_scores(d, '"Roses and tulips."')
    assert s["prompt_level_strict_acc"] == 1.0 and s["inst_level_strict_acc"] == 1.0


def test_empty_response_is_a_failure_not_a_crash():
    for iid, kwargs, _, _ in CASES:
        s = scoring.ifeval_scores(doc(iid, kwargs), "")
        assert s["prompt_level_strict_acc"] == 0.0 and s["prompt_level_loose_acc"] == 0.0
    assert scoring.gsm_scores({"answer": "#### 5"}, "") == {"strict_match": 0.0, "flexible_extract": 0.0}
    assert scoring.gsm_scores({"answer": "#### 5"}, None) == {"strict_match": 0.0, "flexible_extract": 0.0}
    assert scoring.semsim_scores({"reference": "A thermometer measures temperature."}, "") == {"similarity": 0.0, "pass": 0.0}
    assert scoring.think_scores({"mode": "think"}, "")["pass"] == 0.0
    assert scoring.think_scores({"mode": "no_think"}, "   ")["pass"] == 0.0


def test_ifeval_agrees_item_by_item_with_lm_eval():
    """Our scorer vs lm-eval's own test_instruction_following_strict/loose on the suite's items."""
    scoring._ifeval_utils()  # punkt_tab in place before lm-eval's IFEval module is imported
    from lm_eval.tasks.ifeval.utils import InputExample, test_instruction_following_loose, test_instruction_following_strict

    rows = [json.loads(line) for line in (REPO / "evalsuites/ifeval_style/data.jsonl").read_text().splitlines()]
    rows = rows[::3]  # 60 items, still every instruction type (ids rotate through the registry)
    responses = [
        "", "the garden is green. the river is calm.", "THE GARDEN IS GREEN AND QUIET", LONG,
        '"Roses grow. Any other questions?"', "* a\n* b\n* c\n\n***\n\nSection 1 [name]\nP.S. bye",
        '<<Title>>\n{"a": 1}\n******\nriver lantern meadow harbor',
        "Sure:\nwrite a short note to a neighbor. Is there anything else I can help with?",
    ]
    n = 0
    for row in rows:
        inp = InputExample(key=row["key"], instruction_id_list=row["instruction_id_list"], prompt=row["prompt"],
                           kwargs=row["kwargs"])
        for resp in responses:
            ours = scoring.ifeval_raw(row, resp)
            strict, loose = test_instruction_following_strict(inp, resp), test_instruction_following_loose(inp, resp)
            assert ours["inst_level_strict_acc"] == strict.follow_instruction_list, (row["id"], resp)
            assert ours["inst_level_loose_acc"] == loose.follow_instruction_list, (row["id"], resp)
            assert ours["prompt_level_strict_acc"] == strict.follow_all_instructions
            assert ours["prompt_level_loose_acc"] == loose.follow_all_instructions
            n += 1
    assert n == len(rows) * len(responses)


# --- gsm_style -----------------------------------------------------------------------------

GSM = {"answer": "She has 3 + 4 = 7 apples.\n#### 1,250"}


@pytest.mark.parametrize("response,strict,flexible", [
    ("3 + 4 = 7, times ... so 1250.\n#### 1250", 1.0, 1.0),
    ("The total is $1,250.\n#### 1,250", 1.0, 1.0),       # commas and $ are ignored
    ("So the answer is 1250.", 0.0, 1.0),                 # flexible: last number in the text
    ("#### 1250\nThat was easy, I checked 3 times.", 1.0, 0.0),  # flexible takes the last number (3)
    ("#### 1200", 0.0, 0.0),
    ("The answer is twelve hundred fifty.", 0.0, 0.0),
    ("#### 1250.", 1.0, 1.0),                             # a trailing period is ignored
])
def test_gsm_strict_vs_flexible(response, strict, flexible):
    assert scoring.gsm_scores(GSM, response) == {"strict_match": strict, "flexible_extract": flexible}


def test_gsm_accepts_bare_number_answers():
    assert scoring.gsm_scores({"answer": "42"}, "#### 42")["strict_match"] == 1.0


# --- semsim and think_follow ------------------------------------------------------------------


def test_semsim_similar_answers_pass_unrelated_fail():
    d = {"reference": "A thermometer measures temperature."}
    good = scoring.semsim_scores(d, "It measures the temperature.")
    bad = scoring.semsim_scores(d, "Paris is the capital of France.")
    assert good["similarity"] > 0.7 and good["pass"] == 1.0
    assert bad["similarity"] < 0.4 and bad["pass"] == 0.0
    assert scoring.semsim_scores(d, "A thermometer measures temperature.")["similarity"] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("mode,response,ok", [
    ("think", "<think>\n17 + 26 = 43\n</think>\n43", True),
    ("think", "<think>\n\n</think>\n43", False),          # empty block
    ("think", "<think>\n17 + 26 = 43", False),            # never closed
    ("think", "43", False),
    ("no_think", "43", True),
    ("no_think", "<think>\n\n</think>\n43", True),       # SmolLM3's empty block
    ("no_think", "<think>\nlet me see\n</think>\n43", False),
    ("no_think", "<think>\nlet me see", False),
])
def test_think_follow(mode, response, ok):
    s = scoring.think_scores({"mode": mode}, response)
    assert s["pass"] == float(ok) and s[f"pass_{mode}"] == float(ok)


def test_ifeval_scoring_is_deterministic_where_the_checker_draws_a_letter():
    import random

    from workbench.evals.scoring import ifeval_raw

    # no letter given: lm-eval's letter_frequency checker draws one from Python's random
    doc = {"key": 1122, "prompt": "Write about apples.", "instruction_id_list": ["keywords:letter_frequency"],
           "kwargs": [{"let_frequency": 4, "let_relation": "at least"}]}
    response = "aaaa bbbb cccc dddd"  # four each of a-d: passes for some drawn letters only
    ifeval_raw(doc, response)  # imports the checkers (which may draw at import) before states are compared
    seen = set()
    for seed in range(12):
        random.seed(seed)
        state = random.getstate()
        seen.add(ifeval_raw(doc, response)["prompt_level_strict_acc"])
        assert random.getstate() == state  # the caller's random state is left as it was
    assert len(seen) == 1
