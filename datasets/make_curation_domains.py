"""(Re)generate datasets/curation_domains.jsonl: real math, code and non-English chat rows with
planted defects, labelled, for judging curation rules per domain.

    python datasets/make_curation_domains.py

Clean rows come from public data sets vendored under datasets/sources/ (see the README there
for each source and its license), turned into chat rows:

    math         400 GSM8K test problems with their worked solutions (`<<48/2=24>>` calculator
                 annotations removed, the `#### N` answer line kept); every 4th as a /think row
                 whose trace is the worked solution and whose answer is the final line
    code         the 164 HumanEval problems: the user gives the signature and docstring, the
                 assistant the whole function (canonical solution), fenced with a lead-in
                 sentence, fenced alone, or unfenced (indentation only); HumanEval/61 is
                 labelled a (natural) near duplicate of HumanEval/56
    non_english  the 80 MGSM chain-of-thought exemplars in 10 languages (Bengali, Chinese,
                 French, German, Japanese, Russian, Spanish, Swahili, Telugu, Thai), 150 MGSM
                 questions answered with that language's own "the answer is N" sentence, and 20
                 chat answers in 14 languages written for this project (sources/multilingual_chat.jsonl)

The prose domain is datasets/curation_eval.jsonl's explanations, instructions, lists, short
answers, JSON and multi-turn chats (written for this project). Planted defects are made from
each domain's clean rows, in that domain's own style:

    meta.label = "clean" | "defect"
    meta.domain = math | code | non_english | prose
    meta.kind  = the source of a clean row (gsm8k, gsm8k_think, humaneval, mgsm_cot, mgsm_answer,
                 chat), or the defect: exact_duplicate, near_duplicate, degenerate_repetition,
                 empty_answer, broken_think, boilerplate

Deterministic (seeded): the same file every run.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "sources"
OUT = HERE / "curation_domains.jsonl"
SEED = 20260424
THINK_SYS = "You are a helpful assistant. /think"
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


def _read(name: str) -> list[dict]:
    return [json.loads(line) for line in (SRC / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def chat(turns, domain: str, kind: str, label: str = "clean", mode: str | None = None, system: str | None = None) -> dict:
    msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": r, "content": c} for r, c in turns]
    return {"messages": msgs, "reasoning_mode": mode, "source": f"curation_domains/{domain}",
            "meta": {"label": label, "domain": domain, "kind": kind}}


# ----------------------------------------------------------------------------------------
# Clean rows
# ----------------------------------------------------------------------------------------


def math_rows() -> list[dict]:
    rows = []
    for k, r in enumerate(_read("gsm8k_test_400.jsonl")):
        solution = re.sub(r"<<[^>]*>>", "", r["answer"]).strip()
        if k % 4 == 3:
            steps, _, final = solution.rpartition("\n#### ")
            answer = f"<think>\n{steps.strip()}\n</think>\nThe answer is {final.strip()}."
            rows.append(chat([("user", r["question"]), ("assistant", answer)], "math", "gsm8k_think", mode="think",
                             system=THINK_SYS))
        else:
            rows.append(chat([("user", r["question"]), ("assistant", solution)], "math", "gsm8k"))
    return rows


LEADS = ["Here is one way to implement it:", "Here's an implementation:", "This version passes the examples in the docstring:",
         "A straightforward solution:", "You can write it like this:"]
ASKS = ["Complete this Python function:", "Implement the function below.", "Write the body of this function:",
        "Can you finish this function for me?"]


# HumanEval/61 is HumanEval/56 with "<" and ">" for "(" and ")": once punctuation is normalized
# away the two are the same text, a near duplicate found in the data itself, labelled as one
NATURAL_NEAR_DUPLICATES = {"HumanEval/61"}


def code_rows(rng: random.Random) -> list[dict]:
    rows = []
    for k, r in enumerate(_read("humaneval.jsonl")):
        code = (r["prompt"] + r["canonical_solution"]).strip("\n")
        ask = f"{ASKS[k % len(ASKS)]}\n\n```python\n{r['prompt'].strip()}\n```"
        style = k % 4
        if style in (0, 1):
            answer = f"{rng.choice(LEADS)}\n\n```python\n{code}\n```"
        elif style == 2:
            answer = f"```python\n{code}\n```"
        else:
            answer = code  # no fence: the code's indentation and symbols as they are
        row = chat([("user", ask), ("assistant", answer)], "code", "humaneval")
        if r["task_id"] in NATURAL_NEAR_DUPLICATES:
            row["meta"] |= {"label": "defect", "kind": "near_duplicate", "natural": True}
        rows.append(row)
    return rows


def _strip_label(text: str) -> str:
    """'问题：...' / 'Question: ...' -> the question itself (MGSM's exemplar labels)."""
    head, sep, tail = re.split(r"([:：])", text, maxsplit=1) if re.search(r"[:：]", text[:40]) else (text, "", "")
    return tail.strip() if sep and len(head) <= 30 else text.strip()


def _answer_template(exemplar_answer: str) -> str:
    """The language's own closing sentence of exemplar 1 ('答案是 11。'), with {n} for the number."""
    last = exemplar_answer.rstrip()
    i = last.rfind("11")
    start = max(last.rfind(sep, 0, i) for sep in (". ", "。", "। ", "।", "  ", ". ")) + 1
    return last[start:].strip().replace("11", "{n}")


def non_english_rows() -> list[dict]:
    rows, templates = [], {}
    for r in _read("mgsm_exemplars.jsonl"):
        if r["lang"] == "en":
            continue
        if r["n"] == 1:
            templates[r["lang"]] = _answer_template(r["a"])
        rows.append(chat([("user", _strip_label(r["q"])), ("assistant", r["a"])], "non_english", "mgsm_cot"))
    for r in _read("mgsm_questions.jsonl"):
        n = r["answer"]
        rows.append(chat([("user", r["question"]), ("assistant", templates[r["lang"]].format(n=n))], "non_english",
                         "mgsm_answer"))
    for r in _read("multilingual_chat.jsonl"):
        rows.append(chat([("user", r["question"]), ("assistant", r["answer"])], "non_english", "chat"))
    return rows


PROSE_KINDS = {"explanation", "instructions", "list", "short_answer", "json", "multi_turn"}


def prose_rows() -> list[dict]:
    """The clean prose rows of curation_eval.jsonl: defects are planted from them, but they are
    not copied here (the benchmark reads both files)."""
    rows = _read_eval()
    return [r for r in rows if r["meta"]["label"] == "clean" and r["meta"]["kind"] in PROSE_KINDS]


def _read_eval() -> list[dict]:
    path = HERE / "curation_eval.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ----------------------------------------------------------------------------------------
# Planted defects
# ----------------------------------------------------------------------------------------


def _copy(row: dict, domain: str, kind: str) -> dict:
    out = json.loads(json.dumps(row))
    out["source"] = f"curation_domains/{domain}"
    out["meta"] = {"label": "defect", "domain": domain, "kind": kind}
    return out


def _last(row: dict) -> dict:
    return [m for m in row["messages"] if m["role"] == "assistant"][-1]


def exact_copy(row: dict, domain: str, rng: random.Random) -> dict:
    out = _copy(row, domain, "exact_duplicate")
    if rng.random() < 0.5:  # a re-export: case and spacing changed, same text
        msg = _last(out)
        msg["content"] = re.sub(r"[ \t]+", "  ", msg["content"]) + "\n"
        out["messages"][0 if out["messages"][0]["role"] == "user" else 1]["content"] += " "
    return out


def near_copy(row: dict, domain: str, rng: random.Random, rate: float = 0.04) -> dict:
    """~4% of the answer's words replaced or dropped (of its characters, in CJK text)."""
    out = _copy(row, domain, "near_duplicate")
    msg = _last(out)
    text = msg["content"]
    if len(CJK.findall(text)) > len(text) / 3:
        chars = list(text)
        spots = [i for i, c in enumerate(chars) if CJK.match(c)]
        for i in sorted(rng.sample(spots, max(2, round(rate * len(spots)))), reverse=True):
            if rng.random() < 0.5:
                del chars[i]
            else:
                chars[i] = rng.choice("也就都还再")
        msg["content"] = "".join(chars)
        return out
    ws = text.split(" ")
    for i in sorted(rng.sample(range(1, len(ws)), max(2, round(rate * len(ws)))), reverse=True):
        if rng.random() < 0.5:
            del ws[i]
        else:
            ws[i] = rng.choice(["really", "then", "also", "simply", "just", "clearly"])
    msg["content"] = " ".join(ws)
    return out


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?。！？])\s*", text) if len(s.strip()) > 3]


def loop_copy(row: dict, domain: str, rng: random.Random, style: int) -> dict:
    """A degenerate answer: a sentence or phrase repeating, a line repeating inside code, or a
    think trace going round in circles."""
    out = _copy(row, domain, "degenerate_repetition")
    msg = _last(out)
    text = msg["content"]
    if domain == "code" and style % 2 == 0:
        lines = [ln for ln in text.splitlines() if ln.strip().startswith(("return", "for ", "if ", "result"))] or ["    pass"]
        line = rng.choice(lines)
        at = text.find(line)
        msg["content"] = text[:at] + (line + "\n") * rng.randint(12, 25) + text[at:]
        return out
    sents = _sentences(re.sub(r"</?think>", " ", text)) or [text]
    sent = rng.choice(sents[: max(1, len(sents) // 2)]).strip()
    n = rng.randint(10, 25)
    if style % 3 == 0:  # the answer ends in a loop
        msg["content"] = text.rstrip() + "\n" + "\n".join([sent] * n)
    elif style % 3 == 1:  # a loop without line breaks
        sep = "" if CJK.search(sent) else " "
        msg["content"] = text[: len(text) // 3] + sep.join([sent] * n)
    else:  # the model restarts the same step over and over
        words = sent.split()
        phrase = " ".join(words[: min(6, len(words))]) if len(words) > 1 else sent[:12]
        msg["content"] = text[: len(text) // 2] + " ".join([phrase] * n)
    return out


def empty_copy(row: dict, domain: str, rng: random.Random) -> dict:
    out = _copy(row, domain, "empty_answer")
    _last(out)["content"] = rng.choice(["", " ", "\n\n", "\t", "\u3000"])
    return out


TRACES = {"math": "Let me work through this step by step.", "code": "I need to handle the empty input first.",
          "non_english": "让我一步一步地想一想。", "prose": "The user wants a short, clear answer."}


def broken_think_copy(row: dict, domain: str, rng: random.Random, style: int) -> dict:
    """A think-mode row whose <think> block is unclosed, empty, or followed by no answer."""
    out = _copy(row, domain, "broken_think")
    out["reasoning_mode"] = "think"
    if out["messages"][0]["role"] != "system":
        out["messages"].insert(0, {"role": "system", "content": THINK_SYS})
    msg = _last(out)
    body = re.sub(r"</?think>\n?", "", msg["content"]).strip()
    trace = TRACES[domain] + "\n" + body[: max(40, len(body) // 2)]
    msg["content"] = [f"<think>\n{trace}",  # cut off: never closed
                      f"<think>\n\n</think>\n{body}",  # empty trace in think mode
                      f"<think>\n{trace}\n</think>\n",  # no answer after the trace
                      f"<think>\n{trace}\n<think>\n{body}"][style % 4]  # reopened, never closed
    return out


DISCLAIMERS = {
    "en": "As an AI language model, I don't have personal experiences, but I can help with that.",
    "zh": "作为一个AI语言模型，我没有个人经历，但我可以帮助你。", "ja": "AI言語モデルとして、私には個人的な経験はありませんが、お手伝いできます。",
    "ru": "Как языковая модель ИИ, я не имею личного опыта, но могу помочь.",
    "de": "Als KI-Sprachmodell habe ich keine persönlichen Erfahrungen, aber ich kann helfen.",
    "fr": "En tant que modèle de langage IA, je n'ai pas d'expérience personnelle, mais je peux vous aider.",
    "es": "Como modelo de lenguaje de IA, no tengo experiencias personales, pero puedo ayudarte.",
}
WEB_FOOTER = ("\n\nShare this article: Facebook | Twitter | Email\nSubscribe to our newsletter for more tips!\n"
              "Cookie Policy | Privacy Policy | Terms of Use\n© 2023 All rights reserved.")
LOREM = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et "
         "dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris.")


def _lang_of(text: str) -> str:
    if re.search(r"[\u3040-\u30ff]", text):
        return "ja"
    if re.search(r"[\u4e00-\u9fff]", text):
        return "zh"
    if re.search(r"[\u0400-\u04ff]", text):
        return "ru"
    for lang, hint in (("de", r"\b(der|die|und|ist|nicht)\b"), ("fr", r"\b(le|la|les|est|une)\b"), ("es", r"\b(el|los|una|para|que)\b")):
        if re.search(hint, text):
            return lang
    return "en"


def boilerplate_copy(row: dict, domain: str, rng: random.Random, style: int) -> dict:
    """Boilerplate: a canned AI disclaimer, a web page footer, lorem ipsum, or a leaked chat template."""
    out = _copy(row, domain, "boilerplate")
    msg = _last(out)
    text = msg["content"]
    style %= 4
    if style == 0:
        lang = _lang_of(text) if domain == "non_english" else "en"
        msg["content"] = DISCLAIMERS.get(lang, DISCLAIMERS["en"]) + (" " if lang not in ("zh", "ja") else "") + text
    elif style == 1:
        msg["content"] = text.rstrip() + WEB_FOOTER
    elif style == 2:
        msg["content"] = LOREM
    else:
        user = next(m["content"] for m in out["messages"] if m["role"] == "user")
        msg["content"] = text.rstrip() + "<|im_end|>\n<|im_start|>user\n" + user[:80] + "<|im_end|>\n<|im_start|>assistant\n"
    return out


COUNTS = {"exact_duplicate": 8, "near_duplicate": 10, "degenerate_repetition": 8, "empty_answer": 4,
          "broken_think": 4, "boilerplate": 8}


def defects(domain: str, clean: list[dict], rng: random.Random, counts: dict[str, int] = COUNTS) -> list[dict]:
    def long(r):
        text = _last(r)["content"]
        return len(text.split()) >= 40 or len(CJK.findall(text)) >= 60

    out = [exact_copy(r, domain, rng) for r in rng.sample(clean, counts["exact_duplicate"])]
    out += [near_copy(r, domain, rng) for r in rng.sample([r for r in clean if long(r)], counts["near_duplicate"])]
    out += [loop_copy(r, domain, rng, k) for k, r in enumerate(rng.sample(clean, counts["degenerate_repetition"]))]
    out += [empty_copy(r, domain, rng) for r in rng.sample(clean, counts["empty_answer"])]
    out += [broken_think_copy(r, domain, rng, k) for k, r in enumerate(rng.sample(clean, counts["broken_think"]))]
    out += [boilerplate_copy(r, domain, rng, k) for k, r in enumerate(rng.sample(clean, counts["boilerplate"]))]
    return out


def build() -> list[dict]:
    rng = random.Random(SEED)
    rows: list[dict] = []
    for domain, clean in (("math", math_rows()), ("code", code_rows(rng)), ("non_english", non_english_rows())):
        natural = [r for r in clean if r["meta"]["label"] == "defect"]
        clean = [r for r in clean if r["meta"]["label"] == "clean"]
        bad = natural + defects(domain, clean, rng)
        rng.shuffle(clean)
        rows += clean + bad  # every copied defect after its clean original (`keep: first` keeps the original)
    # prose: curation_eval.jsonl already plants duplicates, loops, empty answers and unclosed
    # think blocks in its prose rows; what it lacks is boilerplate (and broken think blocks there)
    prose = prose_rows()
    rows += defects("prose", prose, rng, {**{k: 0 for k in COUNTS}, "boilerplate": 8, "broken_think": 4})
    return rows


def main() -> None:
    rows = build()
    with OUT.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    from collections import Counter

    counts = Counter((r["meta"]["domain"], r["meta"]["label"]) for r in rows)
    print(f"wrote {len(rows)} rows to {OUT}: " + ", ".join(f"{d}/{lab} {n}" for (d, lab), n in sorted(counts.items())))


if __name__ == "__main__":
    main()
