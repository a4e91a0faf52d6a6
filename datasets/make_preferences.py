"""Write the example preference pairs and prompt-only rows (written for this project, CC0-1.0).

    python datasets/make_preferences.py

- `example_preferences.jsonl`: preference pairs in the three shapes ingest reads (prompt /
  chosen / rejected as strings; UltraFeedback-style message lists; a `messages` prefix with
  chosen and rejected completions): correct vs wrong arithmetic, a closed /think block vs none,
  a requested format kept vs ignored; plus seeded defects that curation must remove (pairs
  whose chosen equals rejected, an exact repeat).
- `example_prompts.jsonl`: prompt-only rows for `workbench synth` and GRPO: math questions
  with an `answer` (gsm_answer reward), /think and /no_think questions (think_format), and
  rows carrying IFEval `instruction_id_list` + `kwargs` (ifeval).

Seeded: the same files every run. The templates differ from evalsuites/ (no eval overlap).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 17
HERE = Path(__file__).resolve().parent
NAMES = ["Ines", "Tomas", "Priya", "Kofi", "Lena", "Mateo", "Yuki", "Sven", "Amina", "Ravi", "Noor", "Elif"]

MATH = [  # (question template, answer function, worked solution template)
    ("A train covers {a} km every hour. How far does it go in {b} hours?", lambda a, b: a * b,
     "Distance is speed times time: {a} * {b} = {r} km.\n#### {r}"),
    ("A baker fills {a} trays with {b} rolls each. How many rolls is that?", lambda a, b: a * b,
     "Each tray holds {b} rolls, so {a} * {b} = {r} rolls.\n#### {r}"),
    ("{n} reads {a} pages on Monday and {b} pages on Tuesday. How many pages in total?", lambda a, b: a + b,
     "Adding the two days: {a} + {b} = {r} pages.\n#### {r}"),
    ("A tank holds {a} litres and {b} litres are drained. How many litres remain?", lambda a, b: a - b,
     "Subtract what was drained: {a} - {b} = {r} litres.\n#### {r}"),
]

FORMATS = [  # (instruction, good answer, answer that ignores the instruction)
    ("Answer in one sentence: why do leaves change colour in autumn?",
     "Leaves turn colour in autumn because trees stop making green chlorophyll, revealing yellow and orange pigments.",
     "Leaves change colour for several reasons. Chlorophyll breaks down. Other pigments show. Days get shorter. "
     "Temperatures drop. It is a complex process."),
    ("List three planets as a bulleted list.", "- Mercury\n- Venus\n- Mars", "Mercury, Venus and Mars are planets."),
    ("Reply in lowercase only: what is the largest ocean?", "the pacific ocean is the largest.",
     "The Pacific Ocean Is The Largest."),
    ("Give a JSON object with keys city and country for Lisbon.", '{"city": "Lisbon", "country": "Portugal"}',
     "Lisbon is a city in Portugal."),
    ("Name one mammal that can fly, in at most five words.", "The bat can fly.",
     "Bats are the only mammals capable of true sustained flight, using wings made of skin."),
]

THINK = [  # (question, trace, answer)
    ("How many legs do 4 spiders have?", "A spider has 8 legs; 4 * 8 = 32.", "4 spiders have 32 legs."),
    ("Is 119 divisible by 7?", "7 * 17 = 119, with nothing left over.", "Yes, 119 = 7 x 17."),
    ("What is 15% of 80?", "10% of 80 is 8 and 5% is 4; 8 + 4 = 12.", "15% of 80 is 12."),
    ("How many seconds are in 4 minutes?", "A minute has 60 seconds; 4 * 60 = 240.", "4 minutes is 240 seconds."),
]


def math_rows(rng: random.Random, n: int) -> list[tuple[str, str, str, int]]:
    rows = []
    for i in range(n):
        q, fn, sol = MATH[i % len(MATH)]
        a, b = rng.randint(12, 60), rng.randint(2, 11)
        r = fn(a, b)
        name = NAMES[i % len(NAMES)]
        wrong = r + rng.choice([-3, -2, -1, 1, 2, 5])
        rows.append((q.format(a=a, b=b, n=name), sol.format(a=a, b=b, r=r), sol.format(a=a, b=b, r=wrong), r))
    return rows


def preference_rows(rng: random.Random) -> list[dict]:
    out = []
    for i, (q, good, bad, _) in enumerate(math_rows(rng, 24)):
        if i % 6 == 4:  # UltraFeedback-binarized: whole conversations that share the prompt turn
            out.append({"prompt": q, "chosen": [{"role": "user", "content": q}, {"role": "assistant", "content": good}],
                        "rejected": [{"role": "user", "content": q}, {"role": "assistant", "content": bad}],
                        "score_chosen": 9.0, "score_rejected": 3.0, "source": "math"})
        elif i % 6 == 5:  # a messages prefix (with a system prompt) and two completions
            out.append({"messages": [{"role": "system", "content": "You solve word problems step by step."},
                                     {"role": "user", "content": q}], "chosen": good, "rejected": bad, "source": "math"})
        else:
            out.append({"prompt": q, "chosen": good, "rejected": bad, "source": "math"})
    for q, good, bad in FORMATS:
        out.append({"prompt": q, "chosen": good, "rejected": bad, "source": "format"})
    for q, trace, answer in THINK:
        out.append({"messages": [{"role": "system", "content": "/think"}, {"role": "user", "content": q}],
                    "chosen": f"<think>\n{trace}\n</think>\n{answer}", "rejected": answer, "source": "reasoning"})
        out.append({"messages": [{"role": "system", "content": "/no_think"}, {"role": "user", "content": q}],
                    "chosen": f"<think>\n\n</think>\n{answer}", "rejected": f"<think>\n{trace}\n</think>\n{answer}",
                    "source": "reasoning"})
    rng.shuffle(out)
    # seeded defects: two pairs whose completions are the same text (pair_equal), one exact repeat (exact_dedup)
    plain = [r for r in out if isinstance(r["chosen"], str) and r["source"] != "reasoning"][:2]
    out[10:10] = [dict(plain[0], rejected=plain[0]["chosen"]), dict(plain[1], rejected=plain[1]["chosen"] + "  ")]
    out.append(dict(out[0]))
    return out


def prompt_rows(rng: random.Random) -> list[dict]:
    out = [{"prompt": q, "answer": str(r), "source": "math"} for q, _, _, r in math_rows(rng, 24)]
    for q, _, _ in THINK:
        out.append({"prompt": q, "system": "/think", "source": "reasoning"})
        out.append({"prompt": q, "system": "/no_think", "source": "reasoning"})
    out += [
        {"prompt": "Describe a lighthouse without using any commas.", "instruction_id_list": ["punctuation:no_comma"],
         "kwargs": [{}], "source": "format"},
        {"prompt": "Write two sentences about rain, all in lowercase letters.",
         "instruction_id_list": ["change_case:english_lowercase"], "kwargs": [{}], "source": "format"},
        {"prompt": "Explain what a compass does. Your answer must contain the word north.",
         "instruction_id_list": ["keywords:existence"], "kwargs": [{"keywords": ["north"]}], "source": "format"},
    ]
    rng.shuffle(out)
    return out


def write(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    write(HERE / "example_preferences.jsonl", preference_rows(random.Random(SEED)))
    write(HERE / "example_prompts.jsonl", prompt_rows(random.Random(SEED + 1)))
