"""Generate arith_choice/data.jsonl: arithmetic word problems, four candidate answers each.

Each item is a grade-school word problem and four answer sentences: the right one and three
made by the usual slips (one operation done the wrong way, an off-by-one or off-by-ten
total, a step left out). The model is not asked to generate: lm-eval's `multiple_choice`
output type scores the log-likelihood of each answer (acc, acc_norm) and the runner adds
the bits per byte of the right one. Training data that teaches worked arithmetic (or
hurts it) moves these scores long before it moves exact-match on generated answers.
Run: python evalsuites/arith_choice/make_data.py
"""

from __future__ import annotations

import random
from pathlib import Path

from workbench.evals.suites import mark_smoke, write_jsonl

NAMES = ["Amara", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonah", "Kemi", "Liam"]
THINGS = ["apples", "stickers", "marbles", "books", "pencils", "shells"]
N_ITEMS = 48


def _buy_give(rng):
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    a, b, c = rng.randint(20, 60), rng.randint(5, 19), rng.randint(2, 15)
    q = f"{name} has {a} {thing}, gets {b} more and then gives {c} away. How many {thing} does {name} have now?"
    right = a + b - c
    wrong = [a - b - c, a + b + c, right + rng.choice([1, -1, 10])]
    return q, [f"{name} has {x} {thing}." for x in [right, *wrong]]


def _price_total(rng):
    name = rng.choice(NAMES)
    n, p, m, r = rng.randint(3, 9), rng.randint(4, 15), rng.randint(2, 6), rng.randint(2, 5)
    q = f"{name} buys {n} notebooks at ${p} each and {m} pens at ${r} each. How many dollars is that in total?"
    right = n * p + m * r
    wrong = [n * p + r, (n + m) * p, n * p * m + r]
    return q, [f"The total is ${x}." for x in [right, *wrong]]


def _share(rng):
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    k, each, extra = rng.randint(3, 8), rng.randint(4, 12), rng.randint(1, 2)
    total = k * each
    q = f"{name} shares {total} {thing} equally among {k} friends. How many {thing} does each friend get?"
    wrong = [total - k, each + extra, total // 2]
    return q, [f"Each friend gets {x} {thing}." for x in [each, *wrong]]


def _minutes(rng):
    h, m = rng.randint(2, 6), rng.choice([10, 15, 20, 25, 40, 45])
    q = f"A film lasts {h} hours and {m} minutes. How many minutes long is it?"
    right = h * 60 + m
    wrong = [h * 100 + m, h + m, h * 60]
    return q, [f"It is {x} minutes long." for x in [right, *wrong]]


TEMPLATES = [_buy_give, _price_total, _share, _minutes]


def generate(seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(N_ITEMS):
        template = TEMPLATES[i % len(TEMPLATES)]
        question, choices = template(rng)
        while len(set(choices)) < 4:  # two slips gave the same number: draw the problem again
            question, choices = template(rng)
        order = list(range(4))
        rng.shuffle(order)
        rows.append({"id": f"arc-{i:04d}", "question": question, "choices": [choices[j] for j in order],
                     "gold": order.index(0), "template": template.__name__.lstrip("_")})
    return mark_smoke(rows, 30)


if __name__ == "__main__":
    out = Path(__file__).with_name("data.jsonl")
    rows = generate()
    write_jsonl(out, rows)
    print(f"wrote {len(rows)} items ({sum(r['smoke'] for r in rows)} smoke) to {out}")
