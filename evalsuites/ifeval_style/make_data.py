"""Generate ifeval_style/data.jsonl: writing tasks with verifiable instructions, IFEval format.

Every row has IFEval's fields (`key`, `prompt`, `instruction_id_list`, `kwargs`) with
instruction ids and kwargs from lm-eval's IFEval registry, so lm-eval's own checkers score
it. The tasks and instruction phrasings were written for this project; instructions are
combined without the registry's conflicts. Deterministic: same file every run.
Run: python evalsuites/ifeval_style/make_data.py
"""

from __future__ import annotations

import random
from pathlib import Path

from workbench.evals.suites import mark_smoke, write_jsonl

# Short writing tasks (the part of each prompt that `combination:repeat_prompt` repeats).
TASKS = [
    "Write a short note to a neighbor asking them to water your plants while you travel.",
    "Describe how a bicycle gear system helps a rider climb hills.",
    "Write a product description for a reusable water bottle made of steel.",
    "Explain to a ten-year-old why the sky looks blue during the day.",
    "Write a brief welcome message for new members of a community chess club.",
    "Summarize the benefits of getting enough sleep for students.",
    "Write a short story about a lighthouse keeper who finds a message in a bottle.",
    "Give advice to someone preparing for their first job interview.",
    "Describe a rainy afternoon in a small mountain village.",
    "Write a review of an imaginary cafe that serves only soup.",
    "Explain how composting turns kitchen scraps into soil.",
    "Write a thank-you letter to a teacher who helped you learn to read.",
    "Describe the steps to plant a tree in a backyard.",
    "Write a short speech for the opening of a new public library.",
    "Explain why bees are important for farms and gardens.",
    "Write a travel tip list for visiting a busy city on a budget.",
    "Describe what a day in the life of a city bus driver might look like.",
    "Write a poem about the first snowfall of winter.",
    "Explain how a savings account earns interest over time.",
    "Write an announcement for a neighborhood clean-up day.",
    "Describe the rules of a simple card game you invent.",
    "Write a short biography of a fictional inventor named Ada Brightwell.",
    "Explain the difference between weather and climate.",
    "Write a letter to a friend describing your new apartment.",
    "Give tips for keeping a houseplant alive in a dark room.",
    "Write a pitch for a mobile app that helps people share rides to work.",
    "Describe how to make a simple tomato sauce at home.",
    "Explain why regular exercise is good for mental health.",
    "Write a short fable about a clever fox and a patient turtle.",
    "Write a job advertisement for a part-time bakery assistant.",
    "Describe the view from the top of a tall hill at sunrise.",
    "Explain how a library organizes its books so people can find them.",
    "Write a short apology email for missing a team meeting.",
    "Describe a festival in an imaginary seaside town.",
    "Explain how recycling paper saves resources.",
    "Write a limerick about a cat who loves to sleep in boxes.",
    "Give a short guide to packing a suitcase for a weekend trip.",
    "Write a diary entry from the point of view of an astronaut on the moon.",
    "Explain how a refrigerator keeps food cold.",
    "Write a short motivational message for runners before a marathon.",
    "Describe the history of a fictional bridge in an old river town.",
    "Write instructions for feeding a pet goldfish.",
    "Explain why people should learn a second language.",
    "Write a short dialogue between a baker and a customer who wants a birthday cake.",
    "Describe what makes a good team captain.",
    "Write a short essay about the role of museums in a city.",
    "Explain how to read a bus timetable.",
    "Write a weather report for a sunny day in a coastal town.",
]
# Yes/no questions for `detectable_format:constrained_response`.
QUESTIONS = [
    "Is it a good idea to drink water during a long hike?",
    "Should a beginner learn to swim in a shallow pool first?",
    "Can a small garden produce enough herbs for a family kitchen?",
    "Is reading before bed a useful habit?",
    "Would a bicycle be a practical way to commute five kilometres to work?",
    "Is it worth learning to cook simple meals at home?",
]
WORDS = ["river", "lantern", "garden", "window", "journey", "harbor", "market", "silver", "morning", "bridge",
         "forest", "kitchen", "ladder", "compass", "meadow", "orchard", "ticket", "violin"]
FORBIDDEN = ["very", "really", "good", "nice", "thing", "great", "amazing", "just"]
LANGUAGES = [("fr", "French"), ("es", "Spanish"), ("de", "German"), ("it", "Italian")]
ENDINGS = ["Any other questions?", "Is there anything else I can help with?"]


def ins(r: random.Random, iid: str, task: str) -> tuple[dict, str]:
    """kwargs and the instruction sentence for one registry instruction id."""
    rel = r.choice(["less than", "at least"])
    if iid == "change_case:english_lowercase":
        return {}, "Your entire response should be in English, and in all lowercase letters. No capital letters are allowed."
    if iid == "change_case:english_capital":
        return {}, "Your entire response should be in English and in all capital letters."
    if iid == "change_case:capital_word_frequency":
        n = r.randint(2, 6)
        return ({"capital_frequency": n, "capital_relation": rel},
                f"In your response, words with all capital letters should appear {rel} {n} times.")
    if iid == "punctuation:no_comma":
        return {}, "Do not use any commas in your response."
    if iid == "length_constraints:number_words":
        n = r.choice([40, 60, 80, 100, 120]) if rel == "at least" else r.choice([50, 80, 120, 150])
        return {"num_words": n, "relation": rel}, f"Answer with {rel} {n} words."
    if iid == "length_constraints:number_sentences":
        n = r.randint(3, 8)
        return {"num_sentences": n, "relation": rel}, f"Your response should contain {rel} {n} sentences."
    if iid == "length_constraints:number_paragraphs":
        n = r.randint(2, 4)
        return ({"num_paragraphs": n},
                f"There should be {n} paragraphs. Paragraphs are separated with the markdown divider: ***")
    if iid == "length_constraints:nth_paragraph_first_word":
        n = r.randint(2, 4)
        nth = r.randint(1, n)
        w = r.choice(WORDS)
        return ({"num_paragraphs": n, "nth_paragraph": nth, "first_word": w},
                f"There should be {n} paragraphs. Paragraphs and only paragraphs are separated from each other by "
                f"two new lines. Paragraph {nth} must start with the word {w}.")
    if iid == "keywords:existence":
        kws = r.sample(WORDS, 2)
        return {"keywords": kws}, f"Include the keywords {kws[0]} and {kws[1]} in the response."
    if iid == "keywords:frequency":
        w, n = r.choice(WORDS), r.randint(2, 4)
        return ({"keyword": w, "frequency": n, "relation": rel},
                f"In your response, the word {w} should appear {rel} {n} times.")
    if iid == "keywords:forbidden_words":
        fw = r.sample(FORBIDDEN, 2)
        return {"forbidden_words": fw}, f"Do not include the words {fw[0]} or {fw[1]} in the response."
    if iid == "keywords:letter_frequency":
        letter = r.choice("bcdfgklmpw")
        n = r.randint(2, 8)
        return ({"letter": letter, "let_frequency": n, "let_relation": rel},
                f"In your response, the letter {letter} should appear {rel} {n} times.")
    if iid == "detectable_content:number_placeholders":
        n = r.randint(1, 4)
        return ({"num_placeholders": n},
                f"The response must contain at least {n} placeholders represented by square brackets, such as [name].")
    if iid == "detectable_content:postscript":
        m = r.choice(["P.S.", "P.P.S"])
        return {"postscript_marker": m}, f"At the end of your response, please explicitly add a postscript starting with {m}"
    if iid == "detectable_format:number_bullet_lists":
        n = r.randint(2, 5)
        return ({"num_bullets": n},
                f"Your answer must contain exactly {n} bullet points. Use markdown bullet points such as:\n* This is a point.")
    if iid == "detectable_format:constrained_response":
        return {}, "Answer with one of the following options: ('My answer is yes.', 'My answer is no.', 'My answer is maybe.')"
    if iid == "detectable_format:number_highlighted_sections":
        n = r.randint(1, 3)
        return ({"num_highlights": n},
                f"Highlight at least {n} sections in your answer with markdown, i.e. *highlighted section*.")
    if iid == "detectable_format:multiple_sections":
        sp, n = r.choice(["Section", "SECTION"]), r.randint(2, 4)
        return ({"section_spliter": sp, "num_sections": n},
                f"Your response must have {n} sections. Mark the beginning of each section with {sp} X, such as: {sp} 1")
    if iid == "detectable_format:json_format":
        return {}, "Wrap your entire output in JSON format. You can use markdown ticks such as ```."
    if iid == "detectable_format:title":
        return {}, "Your answer must contain a title, wrapped in double angular brackets, such as <<a day at sea>>."
    if iid == "combination:two_responses":
        return {}, "Give two different responses. Responses and only responses should be separated by 6 asterisk symbols: ******."
    if iid == "combination:repeat_prompt":
        return ({"prompt_to_repeat": task},
                "First repeat the request word for word without change, then give your answer (1. do not say any "
                "words or characters before repeating the request; 2. the request you need to repeat does not "
                "include this sentence)")
    if iid == "startend:end_checker":
        e = r.choice(ENDINGS)
        return {"end_phrase": e}, f"Finish your response with this exact phrase: {e} No other words should follow this phrase."
    if iid == "startend:quotation":
        return {}, "Wrap your entire response with double quotation marks."
    if iid == "language:response_language":
        code, name = r.choice(LANGUAGES)
        return {"language": code}, f"Your ENTIRE response should be in {name} language, no other language is allowed."
    raise KeyError(iid)


N_PROMPTS = 180
SMOKE = 30


def generate(seed: int = 5) -> list[dict]:
    from workbench.evals.nltk_data import ensure

    ensure()  # lm-eval's IFEval module looks for punkt_tab on import
    from lm_eval.tasks.ifeval.instructions_registry import INSTRUCTION_CONFLICTS, INSTRUCTION_DICT, conflict_make

    conflicts = conflict_make({k: set(v) for k, v in INSTRUCTION_CONFLICTS.items()})
    ids = sorted(INSTRUCTION_DICT)
    r = random.Random(seed)
    rows = []
    for i in range(N_PROMPTS):
        primary = ids[i % len(ids)]  # every type appears about equally often
        if primary == "detectable_format:constrained_response":
            task = QUESTIONS[(i // len(ids)) % len(QUESTIONS)]
        else:
            task = TASKS[(i * 7) % len(TASKS)]
        chosen = [primary]
        # a second (and sometimes third) instruction that does not conflict with those chosen
        for _ in range(r.choice([0, 1, 1, 2])):
            options = [c for c in ids if all(c not in conflicts[x] and x not in conflicts[c] for x in chosen)
                       and c not in ("combination:repeat_prompt", "detectable_format:constrained_response")]
            if options:
                chosen.append(r.choice(options))
        kwargs, texts = [], []
        for iid in chosen:
            kw, text = ins(r, iid, task)
            INSTRUCTION_DICT[iid](iid).build_description(**kw)  # kwargs valid for the registry
            kwargs.append(kw)
            texts.append(text)
        rows.append({"id": f"ifs-{i:04d}", "key": 5000 + i, "prompt": " ".join([task, *texts]),
                     "instruction_id_list": chosen, "kwargs": kwargs})
    return mark_smoke(rows, SMOKE)


if __name__ == "__main__":
    out = Path(__file__).with_name("data.jsonl")
    rows = generate()
    write_jsonl(out, rows)
    n_types = len({i for r in rows for i in r["instruction_id_list"]})
    print(f"wrote {len(rows)} prompts, {n_types} instruction types ({sum(r['smoke'] for r in rows)} smoke) to {out}")
