"""Generate gsm_style/data.jsonl: grade-school word problems from templates, answers computed.

Each template draws numbers with a seeded RNG, writes the question, a worked solution and
the final line `#### N` (GSM8K's format), and checks the answer is a positive integer.
Run: python evalsuites/gsm_style/make_data.py   (deterministic; same file every time)
"""

from __future__ import annotations

import random
from pathlib import Path

from workbench.evals.suites import mark_smoke, write_jsonl

NAMES = ["Maya", "Liam", "Priya", "Tomas", "Aiko", "Noah", "Fatima", "Elena", "Kwame", "Sofia", "Ravi", "Lucia",
         "Omar", "Hana", "Jonas", "Zara", "Mateo", "Ingrid", "Chen", "Amara"]
ITEMS = [("apples", "apple"), ("stickers", "sticker"), ("marbles", "marble"), ("pencils", "pencil"),
         ("cookies", "cookie"), ("seashells", "seashell"), ("stamps", "stamp"), ("beads", "bead")]


def t_buy_give(r):
    n, (items, _) = r.choice(NAMES), r.choice(ITEMS)
    a, b, c = r.randint(12, 60), r.randint(5, 30), r.randint(2, 11)
    ans = a + b - c
    q = f"{n} has {a} {items}. {n} buys {b} more and then gives {c} to a friend. How many {items} does {n} have now?"
    s = f"After buying, {n} has {a} + {b} = {a + b} {items}. After giving {c} away, {a + b} - {c} = {ans}."
    return q, s, ans


def t_price_total(r):
    n = r.choice(NAMES)
    k, p, m, q2 = r.randint(2, 9), r.randint(2, 15), r.randint(2, 6), r.randint(3, 12)
    ans = k * p + m * q2
    q = (f"{n} buys {k} notebooks that cost ${p} each and {m} pens that cost ${q2} each. "
         f"How many dollars does {n} spend in total?")
    s = f"Notebooks cost {k} * {p} = {k * p}. Pens cost {m} * {q2} = {m * q2}. Total {k * p} + {m * q2} = {ans}."
    return q, s, ans


def t_change(r):
    n = r.choice(NAMES)
    k, p = r.randint(2, 8), r.randint(3, 12)
    bill = ((k * p) // 10 + 1 + r.randint(0, 5)) * 10
    ans = bill - k * p
    q = f"{n} buys {k} sandwiches at ${p} each and pays with ${bill}. How much change, in dollars, does {n} get back?"
    s = f"The sandwiches cost {k} * {p} = {k * p}. Change is {bill} - {k * p} = {ans}."
    return q, s, ans


def t_weekly(r):
    n = r.choice(NAMES)
    d, w = r.randint(10, 45), r.randint(2, 6)
    days = r.choice([5, 6, 7])
    ans = d * days * w
    q = (f"{n} reads {d} pages every day, {days} days a week. How many pages does {n} read in {w} weeks?")
    s = f"Per week: {d} * {days} = {d * days}. In {w} weeks: {d * days} * {w} = {ans}."
    return q, s, ans


def t_share(r):
    n, (items, _) = r.choice(NAMES), r.choice(ITEMS)
    friends = r.randint(2, 9)
    each = r.randint(3, 15)
    left = r.randint(0, friends - 1)
    total = friends * each + left
    q = (f"{n} shares {total} {items} equally among {friends} friends and keeps the ones left over. "
         f"How many {items} does each friend get?")
    s = f"{total} divided by {friends} is {each} with {left} left over, so each friend gets {each}."
    return q, s, each


def t_half_then(r):
    n = r.choice(NAMES)
    start = 2 * r.randint(10, 60)
    spent = r.randint(3, start // 2 - 1)
    ans = start // 2 - spent
    q = (f"{n} had ${start}. {n} put half of it in a savings account and then spent ${spent} on lunch "
         f"from the rest. How many dollars does {n} have left to spend?")
    s = f"Half of {start} is {start // 2}. Then {start // 2} - {spent} = {ans}."
    return q, s, ans


def t_rows(r):
    rows, per, broken = r.randint(4, 15), r.randint(5, 20), r.randint(1, 9)
    ans = rows * per - broken
    q = (f"A theater has {rows} rows with {per} seats in each row. {broken} seats are broken. "
         f"How many seats can be used?")
    s = f"There are {rows} * {per} = {rows * per} seats. Usable: {rows * per} - {broken} = {ans}."
    return q, s, ans


def t_speed(r):
    n = r.choice(NAMES)
    v, h, extra = r.randint(30, 70), r.randint(2, 6), r.randint(5, 40)
    ans = v * h + extra
    q = (f"{n} drives at {v} miles per hour for {h} hours, then drives {extra} more miles in town. "
         f"How many miles does {n} drive in all?")
    s = f"Highway: {v} * {h} = {v * h}. Total {v * h} + {extra} = {ans}."
    return q, s, ans


def t_age(r):
    a, b = r.sample(NAMES, 2)
    age = r.randint(6, 15)
    mult, yrs = r.randint(2, 4), r.randint(2, 10)
    ans = age * mult + yrs
    q = (f"{a} is {age} years old. {b} is {mult} times as old as {a}. How old will {b} be in {yrs} years?")
    s = f"{b} is {age} * {mult} = {age * mult} now, and in {yrs} years {age * mult} + {yrs} = {ans}."
    return q, s, ans


def t_percent(r):
    n = r.choice(NAMES)
    price = r.choice([20, 40, 50, 60, 80, 100, 120, 150, 200, 250])
    pct = r.choice([10, 20, 25, 50])
    ans = price - price * pct // 100
    q = f"A jacket costs ${price}. {n} buys it during a {pct}% off sale. How many dollars does {n} pay?"
    s = f"The discount is {price} * {pct} / 100 = {price * pct // 100}. {price} - {price * pct // 100} = {ans}."
    return q, s, ans


def t_boxes(r):
    (items, _) = r.choice(ITEMS)
    per, boxes, loose = r.randint(6, 24), r.randint(3, 12), r.randint(1, 20)
    ans = per * boxes + loose
    q = f"A store has {boxes} boxes of {items} with {per} in each box, plus {loose} loose {items}. How many {items} are there?"
    s = f"Boxes hold {boxes} * {per} = {boxes * per}. Plus {loose}: {boxes * per} + {loose} = {ans}."
    return q, s, ans


def t_wage(r):
    n = r.choice(NAMES)
    w, h, bonus = r.randint(8, 25), r.randint(10, 40), r.randint(10, 90)
    ans = w * h + bonus
    q = f"{n} earns ${w} an hour and works {h} hours this week, plus a ${bonus} bonus. How many dollars does {n} earn this week?"
    s = f"Hourly pay: {w} * {h} = {w * h}. With the bonus: {w * h} + {bonus} = {ans}."
    return q, s, ans


def t_garden(r):
    n = r.choice(NAMES)
    rows, plants, eaten = r.randint(3, 10), r.randint(4, 12), r.randint(2, 9)
    tomatoes = r.randint(2, 6)
    ans = (rows * plants - eaten) * tomatoes
    q = (f"{n} plants {rows} rows of tomato plants with {plants} plants per row. Rabbits eat {eaten} of the plants. "
         f"Each remaining plant grows {tomatoes} tomatoes. How many tomatoes does {n} harvest?")
    s = (f"Plants: {rows} * {plants} = {rows * plants}; left {rows * plants} - {eaten} = {rows * plants - eaten}; "
         f"tomatoes {rows * plants - eaten} * {tomatoes} = {ans}.")
    return q, s, ans


def t_difference(r):
    a, b = r.sample(NAMES, 2)
    x, y = r.randint(20, 90), r.randint(5, 19)
    ans = x + (x - y)
    q = (f"{a} scored {x} points in a game. {b} scored {y} fewer points than {a}. "
         f"How many points did they score together?")
    s = f"{b} scored {x} - {y} = {x - y}. Together {x} + {x - y} = {ans}."
    return q, s, ans


TEMPLATES = [t_buy_give, t_price_total, t_change, t_weekly, t_share, t_half_then, t_rows, t_speed, t_age,
             t_percent, t_boxes, t_wage, t_garden, t_difference]
N_ITEMS = 336
SMOKE = 30


def generate(seed: int = 5) -> list[dict]:
    r = random.Random(seed)
    rows, seen = [], set()
    i = 0
    while len(rows) < N_ITEMS:
        template = TEMPLATES[i % len(TEMPLATES)]
        i += 1
        q, s, ans = template(r)
        assert isinstance(ans, int) and ans > 0, (template.__name__, q, ans)
        assert str(ans) in s.split("=")[-1], (template.__name__, s, ans)  # the worked solution ends at the answer
        if q in seen:
            continue
        seen.add(q)
        rows.append({"id": f"gsm-{len(rows):04d}", "question": q, "answer": f"{s}\n#### {ans}",
                     "template": template.__name__[2:]})
    # smoke layer: every k-th item, so it spans all templates
    return mark_smoke(rows, SMOKE)


if __name__ == "__main__":
    out = Path(__file__).with_name("data.jsonl")
    rows = generate()
    write_jsonl(out, rows)
    print(f"wrote {len(rows)} problems ({sum(r['smoke'] for r in rows)} smoke) to {out}")
