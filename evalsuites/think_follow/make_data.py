"""Generate think_follow/data.jsonl: the same prompts under /think and /no_think system flags.

Pass (think): the answer has a closed `<think>...</think>` block with something inside.
Pass (no_think): no `<think>` block, or an empty one (`<think>\n\n</think>`), as in SmolLM3.
Run: python evalsuites/think_follow/make_data.py
"""

from __future__ import annotations

from pathlib import Path

from workbench.evals.suites import write_jsonl

PROMPTS = [
    "What is 17 plus 26?",
    "Name three fruits that are red.",
    "If a train leaves at 3 pm and travels for 2 hours, when does it arrive?",
    "Is 91 a prime number?",
    "Give a one-sentence definition of friction.",
    "Which is heavier, a kilogram of feathers or a kilogram of stones?",
    "How many minutes are in three hours?",
    "Suggest a name for a small bakery.",
    "What is the next number in the sequence 2, 4, 8, 16?",
    "Translate 'good morning' into Spanish.",
    "Sort these words alphabetically: pear, apple, mango.",
    "A box holds 6 eggs. How many boxes are needed for 40 eggs?",
    "What day comes two days after Friday?",
    "Write a haiku about rain.",
    "What is half of 250?",
    "Explain in one sentence why the moon has phases.",
    "Which word does not belong: cat, dog, carrot, horse?",
    "If today is the 30th of April, what is the date tomorrow?",
    "Give an antonym for 'generous'.",
    "How many sides does a hexagon have?",
    "Is it safe to look directly at the sun?",
    "What is 12 times 12?",
    "Recommend a simple breakfast that has protein.",
    "Convert 3 kilometres to metres.",
    "What is the plural of 'mouse'?",
    "Tom is taller than Ann, and Ann is taller than Bo. Who is shortest?",
    "Name a country in South America.",
    "What is 100 minus 37?",
    "Give one tip for remembering new vocabulary.",
    "How many wheels do three bicycles have?",
]
SMOKE = 30


def generate() -> list[dict]:
    rows = []
    for i, p in enumerate(PROMPTS):
        for mode in ("think", "no_think"):
            rows.append({"id": f"thk-{i:03d}-{mode}", "prompt": p, "mode": mode, "system": f"/{mode}"})
    # smoke: the first 15 prompts in both modes, so think and no_think are balanced
    for row in rows:
        row["smoke"] = int(row["id"].split("-")[1]) < SMOKE // 2
    return rows


if __name__ == "__main__":
    out = Path(__file__).with_name("data.jsonl")
    rows = generate()
    write_jsonl(out, rows)
    print(f"wrote {len(rows)} items ({sum(r['smoke'] for r in rows)} smoke) to {out}")
