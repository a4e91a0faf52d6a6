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
# (reasoning, answer) per prompt: the reference response in the expected format, scored by
# its bits per byte under the model (teacher-forced). /think: `<think>\nreasoning\n</think>\n`
# then the answer; /no_think: the empty `<think>\n\n</think>\n` then the answer (SmolLM3).
REFERENCES = [
    ("17 + 26: 17 + 20 = 37, and 37 + 6 = 43.", "17 plus 26 is 43."),
    ("Red fruits: strawberries, cherries, and red apples are common ones.", "Strawberries, cherries and red apples."),
    ("Leaving at 3 pm and adding 2 hours gives 5 pm.", "It arrives at 5 pm."),
    ("91 = 7 x 13, so it has divisors other than 1 and itself.", "No, 91 is not prime: it is 7 times 13."),
    ("Friction is a force between surfaces in contact that resists sliding.",
     "Friction is the force that resists motion between two surfaces in contact."),
    ("Both weigh one kilogram; the material does not matter.", "Neither: both weigh one kilogram."),
    ("One hour is 60 minutes, so three hours are 3 x 60 = 180 minutes.", "There are 180 minutes in three hours."),
    ("A short, warm name that suggests fresh bread would suit a small bakery.", "The Golden Crust."),
    ("Each number doubles: 2, 4, 8, 16, so the next is 32.", "The next number is 32."),
    ("'Good morning' in Spanish is 'buenos dias'.", "Buenos dias."),
    ("Alphabetical order by first letter: a, m, p.", "apple, mango, pear"),
    ("40 / 6 = 6 remainder 4, so 6 full boxes are not enough; one more is needed.", "7 boxes are needed."),
    ("Friday, then Saturday is one day after and Sunday is two days after.", "Sunday."),
    ("A haiku has lines of 5, 7 and 5 syllables; rain gives soft sounds and grey skies.",
     "Soft rain on the roof\ngrey clouds whisper to the street\npuddles hold the sky"),
    ("Half of 250 is 250 / 2 = 125.", "Half of 250 is 125."),
    ("The moon reflects sunlight, and as it orbits Earth we see different parts of its lit half.",
     "The moon has phases because we see different parts of its sunlit half as it orbits Earth."),
    ("Cat, dog and horse are animals; a carrot is a vegetable.", "Carrot."),
    ("April has 30 days, so the day after the 30th of April is the 1st of May.", "Tomorrow is the 1st of May."),
    ("Generous means giving freely; the opposite is stingy or selfish.", "Stingy."),
    ("Hexa means six.", "A hexagon has six sides."),
    ("Looking at the sun can damage the retina.", "No, looking directly at the sun can damage your eyes."),
    ("12 x 12 = 144.", "12 times 12 is 144."),
    ("Eggs are a quick breakfast with plenty of protein.", "Scrambled eggs on whole-grain toast."),
    ("One kilometre is 1000 metres, so 3 km = 3000 m.", "3 kilometres is 3000 metres."),
    ("'Mouse' has an irregular plural.", "The plural of 'mouse' is 'mice'."),
    ("Tom > Ann > Bo in height, so Bo is the shortest.", "Bo is the shortest."),
    ("Countries in South America include Brazil, Peru and Chile.", "Brazil."),
    ("100 - 37: 100 - 30 = 70, then 70 - 7 = 63.", "100 minus 37 is 63."),
    ("Spaced repetition helps move words into long-term memory.", "Review new words at spaced intervals."),
    ("A bicycle has 2 wheels, so 3 bicycles have 3 x 2 = 6.", "Three bicycles have 6 wheels."),
]
SMOKE = 30


def reference(i: int, mode: str) -> str:
    thought, answer = REFERENCES[i]
    return f"<think>\n{thought}\n</think>\n{answer}" if mode == "think" else f"<think>\n\n</think>\n{answer}"


def generate() -> list[dict]:
    assert len(REFERENCES) == len(PROMPTS)
    rows = []
    for i, p in enumerate(PROMPTS):
        for mode in ("think", "no_think"):
            rows.append({"id": f"thk-{i:03d}-{mode}", "prompt": p, "mode": mode, "system": f"/{mode}",
                         "reference": reference(i, mode)})
    # smoke: the first 15 prompts in both modes, so think and no_think are balanced
    for row in rows:
        row["smoke"] = int(row["id"].split("-")[1]) < SMOKE // 2
    return rows


if __name__ == "__main__":
    out = Path(__file__).with_name("data.jsonl")
    rows = generate()
    write_jsonl(out, rows)
    print(f"wrote {len(rows)} items ({sum(r['smoke'] for r in rows)} smoke) to {out}")
