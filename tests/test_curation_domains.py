"""Filters fit for chat data: the default recipe on real math (GSM8K), code (HumanEval) and
non-English rows (MGSM, multilingual chat) with planted defects (datasets/curation_domains.jsonl),
and the statistics behind it on single rows."""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import REPO
from workbench.curate.filters import BoilerplateFilter, LengthFilter, QualityFilter, RepetitionFilter, quality_stats
from workbench.curate.recipe import DEFAULT_RECIPE, load_recipe
from workbench.curate.text import count_words, strip_fenced_code, word_tokens
from workbench.data.records import make_record

sys.path.insert(0, str(REPO / "benchmarks"))
from curation import DATA, DOMAINS, load  # noqa: E402
from curation_domains import measure, summarize  # noqa: E402

sys.path.pop(0)


def _chat(answer: str, user: str = "Question?"):
    return make_record([{"role": "user", "content": user}, {"role": "assistant", "content": answer}])


@pytest.fixture(scope="module")
def per_domain():
    return measure(load(DATA) + load(DOMAINS), DEFAULT_RECIPE)


def test_the_domain_set_is_what_the_generator_writes():
    sys.path.insert(0, str(REPO / "datasets"))
    try:
        import make_curation_domains
    finally:
        sys.path.pop(0)
    rows = make_curation_domains.build()
    assert [json.dumps(r, ensure_ascii=False) for r in rows] == DOMAINS.read_text(encoding="utf-8").splitlines()
    clean = {d: sum(r["meta"]["label"] == "clean" and r["meta"]["domain"] == d for r in rows)
             for d in ("math", "code", "non_english")}
    assert clean == {"math": 400, "code": 163, "non_english": 250}


def test_default_recipe_per_domain(per_domain):
    for name in ("math", "code", "non_english", "prose"):
        s = summarize(per_domain[name])
        assert s["clean_kept"] >= 0.99, (name, [(r.meta["kind"], w["reason"]) for r, w in per_domain[name]["lost"]])
        assert s["bad_removed"] == 1.0, (name, [r.meta["kind"] for r in per_domain[name]["missed"]])
        assert s["exact_removed"] == 1.0 and s["near_removed"] >= 0.9, name
    # real data: no clean row lost at all; the SQL template siblings and the think / no_think
    # copies of one answer are kept (minhash_dedup keeps them apart); the one row still lost is
    # a JSON order listing the same three products as another in another order
    for name in ("math", "code", "non_english"):
        assert per_domain[name]["removed"]["clean"] == 0, [(r.meta, w["reason"]) for r, w in per_domain[name]["lost"]]
    assert [(r.meta["kind"], w["step"]) for r, w in per_domain["prose"]["lost"]] == [("json", "minhash_dedup")]


def test_words_in_scripts_without_spaces():
    assert word_tokens("我有 5 个苹果。Hello world") == ["我", "有", "5", "个", "苹", "果", "。", "Hello", "world"]
    assert count_words("Привет, как дела?") == 3 and count_words("สวัสดี") == 6
    short_zh = _chat("你好！有什么可以帮你的吗？", user="你好")
    assert LengthFilter(LengthFilter.Params(min_words=3)).check(short_zh) is None  # 2 whitespace "words", 14 tokens


def test_prose_statistics_leave_numbers_operators_and_code_out():
    math = "\n".join(f"{a} * {b} = {a * b}" for a, b in [(12, 150), (3, 4), (7, 8)] * 6) + "\nSo the total is 1800 dollars."
    s = quality_stats(math)
    assert s["alpha_words_frac"] == 1.0  # every token without a letter is a number or an operator
    code = "Here it is:\n\n```python\ndef f(x):\n    return [y ** 2 for y in x if y % 2 == 0]\n```\n"
    assert strip_fenced_code(code).strip() == "Here it is:"
    soup = " ".join(["■■■", "★★", "word"] * 20)
    assert quality_stats(soup)["alpha_words_frac"] < 0.4
    strict = QualityFilter(QualityFilter.Params(min_words=10))
    assert strict.check(_chat(soup)).reason == "alpha_words_frac"
    assert strict.check(_chat(math)) is None
    zh = "机器学习是人工智能的一个分支，简单来说，就是让计算机从数据中自己总结规律。" * 2
    assert QualityFilter(QualityFilter.Params(min_words=10, min_stop_words=2)).check(_chat(zh)) is None


def test_stop_words_judge_english_prose_only():
    """Gopher's stop words are English: at its limit of 2 the rule drops English prose without
    them, and never a German, Russian or Spanish answer (langdetect decides which is which)."""
    rule = QualityFilter(QualityFilter.Params(min_words=20, min_stop_words=2, min_avg_word_length=2.0))
    english = ("Preheat oven. Grease pan. Mix flour, sugar, eggs, butter until smooth. Pour batter into pan. "
               "Bake forty minutes. Cool ten minutes. Slice. Serve warm. Store leftovers covered. Enjoy!") * 2
    assert rule.check(_chat(english)).reason == "stop_words"
    answers = {
        "de": "Die Photosynthese ist ein Prozess, bei dem Pflanzen Lichtenergie nutzen, um aus Kohlendioxid und "
              "Wasser Zucker herzustellen. Dabei wird Sauerstoff freigesetzt, den wir zum Atmen brauchen. Der "
              "Vorgang findet in den Chloroplasten statt, die den grünen Farbstoff Chlorophyll enthalten.",
        "ru": "Фотосинтез — это процесс, при котором растения используют энергию света, чтобы превращать "
              "углекислый газ и воду в сахар. При этом выделяется кислород, которым мы дышим. Процесс идёт в "
              "хлоропластах, где находится зелёный пигмент хлорофилл, поглощающий солнечный свет.",
        "es": "La fotosíntesis es un proceso en el que las plantas usan la energía de la luz para convertir el "
              "dióxido de carbono y el agua en azúcar. Durante este proceso se libera oxígeno, que respiramos. "
              "Ocurre en los cloroplastos, donde se encuentra la clorofila, un pigmento verde.",
    }
    for lang, text in answers.items():
        assert quality_stats(text)["stop_words"] < 2, lang  # the English rule would drop it
        assert rule.check(_chat(text)) is None, lang
    # a German list of languages the rule is for: then German prose is judged too
    german = QualityFilter(QualityFilter.Params(min_words=20, min_stop_words=2, stop_words_languages=["en", "de"]))
    assert german.check(_chat(answers["de"])).reason == "stop_words"


def test_chinese_loop_without_spaces_is_repetition():
    rep = RepetitionFilter(next(p for s, p in load_recipe(DEFAULT_RECIPE).steps if s == "gopher_repetition"))
    loop = "答案是 11。" + "罗杰一开始有五个球，然后又买了两罐。" * 12
    assert rep.check(_chat(loop)) is not None
    clean = "机器学习是人工智能的一个分支，简单来说，就是让计算机从数据中自己总结规律，而不是由程序员把每一条规则都写死。"
    assert rep.check(_chat(clean)) is None


@pytest.mark.parametrize("answer,reason", [
    ("As an AI language model, I cannot have opinions. Paris is the capital.", "ai_disclaimer"),
    ("作为一个AI语言模型，我没有个人经历。", "ai_disclaimer"),
    ("Lorem ipsum dolor sit amet, consectetur adipiscing elit.", "placeholder"),
    ("Paris.<|im_end|>\n<|im_start|>user\nAnd Spain?", "leaked_template_token"),
    ("Paris.\n\nCookie Policy | Terms of Use\n© 2023 All rights reserved.", "web_boilerplate"),
])
def test_boilerplate(answer, reason):
    assert BoilerplateFilter().check(_chat(answer)).reason == reason


def test_boilerplate_spares_real_answers():
    f = BoilerplateFilter()
    assert f.check(_chat("A privacy policy tells users what data you collect and why.")) is None
    code = "```python\n# Copyright 2024. All rights reserved. See the cookie policy.\nprint('hi')\n```"
    assert f.check(_chat(code)) is None  # inside code it is content
