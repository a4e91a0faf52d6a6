"""(Re)generate datasets/curation_eval.jsonl: a labelled set for judging curation rules.

    python datasets/make_curation_eval.py

Realistic chat rows written for this project, in the shapes post-training data takes:
worked math solutions (with and without a think trace), code, step-by-step instructions,
short answers, lists, JSON output and multi-turn conversations (code revisions, follow-ups).
Every row carries its label in `meta`:

    meta.label = "clean" | "defect" | "pii"
    meta.kind  = the domain of a clean row, or the planted defect:
                 exact_duplicate, near_duplicate, degenerate_repetition, empty_answer,
                 unclosed_think, pii_email, pii_phone, pii_ipv4, pii_ipv6

`pii` rows are otherwise clean rows with a planted email, phone number or public IP: the
default recipe (no PII step) should keep them, the PII step should catch them. Several clean
rows carry PII look-alikes on purpose (version numbers, private IPs in networking answers,
Python decorators, dates, times, prices) so the PII step's precision means something.
Deterministic (seeded): the same file every run.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "curation_eval.jsonl"
SEED = 20261201
THINK_SYS = "You are a helpful assistant. /think"
NO_THINK_SYS = "You are a helpful assistant. /no_think"

NAMES = ["Maya", "Tom", "Aisha", "Lucas", "Priya", "Jonas", "Elena", "Kwame", "Sofia", "Hiro", "Nadia", "Owen",
         "Grace", "Mateo", "Ines", "Ravi", "Chloe", "Yusuf", "Hannah", "Diego", "Mei", "Samuel", "Leila", "Felix"]
JOBS = [("tutoring", "student"), ("dog walking", "dog"), ("babysitting", "family"), ("gardening", "garden"),
        ("washing cars", "car"), ("painting fences", "fence"), ("delivering newspapers", "route"),
        ("repairing bikes", "bike"), ("teaching piano", "pupil"), ("cleaning windows", "house")]
ITEMS = [("notebooks", "notebook"), ("pencils", "pencil"), ("apples", "apple"), ("stickers", "sticker"),
         ("cupcakes", "cupcake"), ("tickets", "ticket"), ("marbles", "marble"), ("bottles of juice", "bottle"),
         ("comic books", "comic book"), ("packs of seeds", "pack"), ("candles", "candle"), ("postcards", "postcard")]
PLACES = ["the farmers market", "the school fair", "a corner shop", "the museum gift shop", "a bakery",
          "the stationery store", "a garage sale", "the bookshop", "the garden centre", "the train station kiosk"]
VEHICLES = [("train", "rails"), ("bus", "motorway"), ("cyclist", "trail"), ("ferry", "lake"), ("runner", "track"),
            ("truck", "highway"), ("drone", "valley"), ("sailboat", "coast")]


def _money(x: float) -> str:
    return f"${x:,.2f}".replace(".00", "")


def math_rate(rng: random.Random) -> tuple[str, str, str]:
    name, (job, unit) = rng.choice(NAMES), rng.choice(JOBS)
    rate, h1, h2 = rng.randint(6, 25), rng.randint(2, 9), rng.randint(2, 9)
    d1, d2 = rng.sample(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"], 2)
    q = (f"{name} earns {_money(rate)} per hour {job}. On {d1} {name} works {h1} hours and on {d2} {h2} hours. "
         f"How much does {name} earn in total?")
    trace = (f"{name} works {h1} + {h2} = {h1 + h2} hours at {_money(rate)} per hour.\n"
             f"{h1 + h2} x {_money(rate)} = {_money(rate * (h1 + h2))}.")
    a = (f"On {d1}, {name} earns {h1} x {_money(rate)} = {_money(rate * h1)}.\n"
         f"On {d2}, {name} earns {h2} x {_money(rate)} = {_money(rate * h2)}.\n"
         f"In total, {name} earns {_money(rate * h1)} + {_money(rate * h2)} = {_money(rate * (h1 + h2))} from {job}.\n"
         f"#### {rate * (h1 + h2)}")
    return q, trace, a


def math_shop(rng: random.Random) -> tuple[str, str, str]:
    name, (items, item), place = rng.choice(NAMES), rng.choice(ITEMS), rng.choice(PLACES)
    n, price, paid = rng.randint(3, 12), rng.choice([0.5, 0.75, 1.25, 1.5, 2, 2.5, 3, 4]), rng.choice([20, 50])
    cost = n * price
    if cost >= paid:
        paid = 100
    q = (f"At {place}, {name} buys {n} {items} for {_money(price)} each and pays with a {_money(paid)} bill. "
         f"How much change does {name} get back?")
    trace = (f"Cost: {n} x {_money(price)} = {_money(cost)}. Change: {_money(paid)} - {_money(cost)} = "
             f"{_money(paid - cost)}.")
    a = (f"Each {item} costs {_money(price)}, so {n} {items} cost {n} x {_money(price)} = {_money(cost)}.\n"
         f"{name} pays {_money(paid)}, so the change is {_money(paid)} - {_money(cost)} = {_money(paid - cost)}.\n"
         f"#### {paid - cost:g}")
    return q, trace, a


def math_speed(rng: random.Random) -> tuple[str, str, str]:
    (veh, road) = rng.choice(VEHICLES)
    speed, t1, t2 = rng.randint(12, 90), rng.randint(1, 4), rng.randint(1, 4)
    q = (f"A {veh} travels along the {road} at {speed} km per hour for {t1} hours, stops for lunch, then keeps "
         f"the same speed for another {t2} hours. How far does the {veh} travel?")
    trace = f"Total time {t1} + {t2} = {t1 + t2} hours. Distance = {speed} x {t1 + t2} = {speed * (t1 + t2)} km."
    a = (f"Before lunch the {veh} covers {speed} x {t1} = {speed * t1} km.\n"
         f"After lunch it covers {speed} x {t2} = {speed * t2} km.\n"
         f"Altogether the {veh} travels {speed * t1} + {speed * t2} = {speed * (t1 + t2)} km along the {road}.\n"
         f"#### {speed * (t1 + t2)}")
    return q, trace, a


def math_percent(rng: random.Random) -> tuple[str, str, str]:
    name, (items, item) = rng.choice(NAMES), rng.choice(ITEMS)
    total, pct = rng.choice([40, 60, 80, 120, 150, 200, 240]), rng.choice([10, 15, 20, 25, 30, 40, 45])
    part = total * pct // 100
    q = (f"{name} has {total} {items} and gives away {pct}% of them to friends at school. How many {items} "
         f"does {name} have left?")
    trace = f"{pct}% of {total} is {part}. {total} - {part} = {total - part}."
    a = (f"{pct}% of {total} {items} is {total} x {pct}/100 = {part} {items}.\n"
         f"After giving them away, {name} keeps {total} - {part} = {total - part} {items}.\n#### {total - part}")
    return q, trace, a


def math_share(rng: random.Random) -> tuple[str, str, str]:
    a_name, b_name = rng.sample(NAMES, 2)
    ra, rb = rng.randint(1, 5), rng.randint(1, 5)
    unit = rng.randint(3, 20)
    total = (ra + rb) * unit
    thing = rng.choice(["prize money", "pizza slices", "hiking snacks", "coloured beads", "garden seedlings"])
    q = (f"{a_name} and {b_name} split {total} {thing} in the ratio {ra}:{rb}. How many does {b_name} receive?")
    trace = f"{ra} + {rb} = {ra + rb} parts. One part is {total} / {ra + rb} = {unit}. {b_name}: {rb} x {unit} = {rb * unit}."
    a = (f"The ratio {ra}:{rb} has {ra} + {rb} = {ra + rb} parts.\nOne part is {total} / {ra + rb} = {unit} {thing}.\n"
         f"{b_name} gets {rb} parts, which is {rb} x {unit} = {rb * unit} {thing}.\n#### {rb * unit}")
    return q, trace, a


MATH = [math_rate, math_shop, math_speed, math_percent, math_share]

# ---------------------------------------------------------------------------------------
# Code: (task, function name, body lines, explanation); bodies are real, runnable Python.
# ---------------------------------------------------------------------------------------
CODE = [
    ("returns the sum of the squares of a list of numbers", "sum_of_squares", ["total = 0", "for x in values:", "    total += x * x", "return total"], "It walks the list once and adds the square of each number to a running total."),
    ("counts how many times each word appears in a sentence", "word_counts", ["counts = {}", "for word in text.lower().split():", "    counts[word] = counts.get(word, 0) + 1", "return counts"], "Each word is lowercased so that 'The' and 'the' are counted together."),
    ("checks whether a string is a palindrome, ignoring case and spaces", "is_palindrome", ["cleaned = ''.join(c.lower() for c in text if c.isalnum())", "return cleaned == cleaned[::-1]"], "It keeps only letters and digits, then compares the string with its reverse."),
    ("returns the n-th Fibonacci number iteratively", "fibonacci", ["a, b = 0, 1", "for _ in range(n):", "    a, b = b, a + b", "return a"], "The loop keeps only the last two numbers, so it runs in linear time and constant memory."),
    ("flattens a list of lists into one list", "flatten", ["result = []", "for inner in nested:", "    result.extend(inner)", "return result"], "`extend` appends every element of the inner list in order."),
    ("removes duplicates from a list while keeping the original order", "dedupe", ["seen = set()", "out = []", "for item in items:", "    if item not in seen:", "        seen.add(item)", "        out.append(item)", "return out"], "A set gives constant-time membership checks while the list keeps the order."),
    ("returns the largest number in a list without using max", "largest", ["best = values[0]", "for x in values[1:]:", "    if x > best:", "        best = x", "return best"], "It assumes the list is not empty; call it only on non-empty input."),
    ("converts a temperature from Celsius to Fahrenheit", "celsius_to_fahrenheit", ["return celsius * 9 / 5 + 32"], "The formula multiplies by nine fifths and adds thirty-two."),
    ("groups a list of words by their first letter", "group_by_initial", ["groups = {}", "for word in words:", "    groups.setdefault(word[0].lower(), []).append(word)", "return groups"], "`setdefault` creates the list the first time a letter is seen."),
    ("reads a CSV file and returns its rows as dictionaries", "read_rows", ["import csv", "with open(path, newline='') as f:", "    return list(csv.DictReader(f))"], "`csv.DictReader` uses the header line as the keys of every row."),
    ("computes the average of a list, returning None for an empty list", "average", ["if not values:", "    return None", "return sum(values) / len(values)"], "Returning None avoids a ZeroDivisionError on empty input."),
    ("returns the factorial of n recursively", "factorial", ["if n <= 1:", "    return 1", "return n * factorial(n - 1)"], "The base case stops the recursion at one."),
    ("checks whether a number is prime", "is_prime", ["if n < 2:", "    return False", "i = 2", "while i * i <= n:", "    if n % i == 0:", "        return False", "    i += 1", "return True"], "Trying divisors up to the square root is enough."),
    ("merges two sorted lists into one sorted list", "merge_sorted", ["i = j = 0", "out = []", "while i < len(a) and j < len(b):", "    if a[i] <= b[j]:", "        out.append(a[i])", "        i += 1", "    else:", "        out.append(b[j])", "        j += 1", "return out + a[i:] + b[j:]"], "This is the merge step of merge sort and runs in linear time."),
    ("reverses the order of words in a sentence", "reverse_words", ["return ' '.join(reversed(text.split()))"], "`split` without arguments also collapses repeated spaces."),
    ("returns the most common element of a list", "most_common", ["from collections import Counter", "return Counter(items).most_common(1)[0][0]"], "`Counter.most_common(1)` returns a list with one (element, count) pair."),
    ("chunks a list into pieces of a given size", "chunks", ["return [items[i:i + size] for i in range(0, len(items), size)]"], "The last chunk is shorter when the length is not a multiple of the size."),
    ("validates that a string looks like a hexadecimal colour such as #a1b2c3", "is_hex_colour", ["import re", "return re.fullmatch(r'#[0-9a-fA-F]{6}', text) is not None"], "`fullmatch` makes sure nothing comes before or after the colour."),
    ("transposes a matrix given as a list of rows", "transpose", ["return [list(row) for row in zip(*matrix)]"], "`zip(*matrix)` pairs up the i-th element of every row."),
    ("counts the vowels in a string", "count_vowels", ["return sum(1 for c in text.lower() if c in 'aeiou')"], "Lowercasing first means capital vowels are counted too."),
]
ARGS = {"sum_of_squares": "values", "word_counts": "text", "is_palindrome": "text", "fibonacci": "n", "flatten": "nested",
        "dedupe": "items", "largest": "values", "celsius_to_fahrenheit": "celsius", "group_by_initial": "words",
        "read_rows": "path", "average": "values", "factorial": "n", "is_prime": "n", "merge_sorted": "a, b",
        "reverse_words": "text", "most_common": "items", "chunks": "items, size", "is_hex_colour": "text",
        "transpose": "matrix", "count_vowels": "text"}


def code_block(fname: str, body: list[str], hints: bool = False, doc: str = "") -> str:
    sig = ARGS[fname]
    if hints:
        sig = ", ".join(f"{a.strip()}: list" if a.strip() in ("values", "items", "nested", "a", "b", "words", "matrix")
                        else f"{a.strip()}: str" if a.strip() in ("text", "path") else f"{a.strip()}: int"
                        for a in sig.split(","))
    lines = [f"def {fname}({sig}):"] + ([f'    """{doc}"""'] if doc else []) + ["    " + b for b in body]
    return "```python\n" + "\n".join(lines) + "\n```"


def code_rows(rng: random.Random) -> list[dict]:
    rows = []
    openers = ["Write a Python function that {t}.", "Can you give me a Python function that {t}?",
               "I need a small Python helper that {t}.", "Show me how to write a function in Python that {t}."]
    for k, (task, fname, body, why) in enumerate(CODE):
        # plain answer, or (every other function) the multi-turn revision below: not both, they
        # would be near duplicates of each other
        if k % 2 == 0:
            rows.append(chat([("user", rng.choice(openers).format(t=task)),
                              ("assistant", f"Here is a function that {task}:\n\n{code_block(fname, body)}\n\n{why}")],
                             "code"))
        # with tests: several near-identical assert lines, natural in code
        arg = ARGS[fname].split(",")[0]
        tests = "\n".join(f"    assert {fname}(...)  # case {i}: {c}" for i, c in
                          enumerate(["a typical input", "an edge case", "a single element", "a large input"], 1))
        rows.append(chat([("user", f"Write {fname} in Python (it {task}) and a pytest test skeleton for it."),
                          ("assistant", f"{code_block(fname, body, doc=task.capitalize() + '.')}\n\nA test skeleton:\n\n"
                                        f"```python\ndef test_{fname}():\n{tests}\n```\n\nReplace each `...` with a "
                                        f"concrete `{arg}` and compare with the result you expect.")], "code"))
        # multi-turn revision: the whole function repeated with type hints (repeated lines across turns)
        if k % 2 == 0:
            continue
        rows.append(chat([("user", rng.choice(openers).format(t=task)),
                          ("assistant", code_block(fname, body) + f"\n\n{why}"),
                          ("user", "Nice. Could you add type hints and a docstring?"),
                          ("assistant", "Sure, the same function with type hints and a docstring:\n\n"
                                        + code_block(fname, body, hints=True, doc=task.capitalize() + "."))],
                         "multi_turn_code"))
        if True:  # odd k: one SQL row per pair of functions
            sql_tables = ["orders", "customers", "invoices", "shipments", "employees", "payments", "bookings",
                          "products", "reviews", "tickets"]
            t = sql_tables[k // 2]
            col = rng.choice(["created_at", "updated_at", "paid_at", "closed_at"])
            rows.append(chat([("user", f"Write a SQL query that counts the {t} per month in 2025, newest month first."),
                              ("assistant", f"```sql\nSELECT date_trunc('month', {col}) AS month,\n       count(*) AS n_{t}\n"
                                            f"FROM {t}\nWHERE {col} >= DATE '2025-01-01'\n  AND {col} < DATE '2026-01-01'\n"
                                            f"GROUP BY month\nORDER BY month DESC;\n```\n\nThe two bounds on `{col}` "
                                            f"keep the filter index-friendly instead of wrapping the column in a function.")],
                             "code"))
    return rows


# ---------------------------------------------------------------------------------------
# Instructions (numbered steps), lists, short answers, JSON output, general multi-turn
# ---------------------------------------------------------------------------------------
HOWTO = [
    ("repot a houseplant", ["Water the plant a day before so the root ball holds together.", "Pick a pot one size larger with a drainage hole.", "Add a layer of fresh potting mix to the bottom of the new pot.", "Tip the plant out, loosen circling roots gently with your fingers.", "Set it at the same depth as before and fill around it with mix.", "Water well and keep it out of strong sun for a week."]),
    ("change a flat bicycle tyre", ["Shift to the smallest gear and open the brake if it has a quick release.", "Remove the wheel and let out any remaining air.", "Use two tyre levers to lift one side of the tyre off the rim.", "Pull out the tube and run your fingers inside the tyre to find the thorn or glass.", "Fit the new tube with a little air in it, then push the tyre bead back on by hand.", "Inflate to the pressure printed on the sidewall and refit the wheel."]),
    ("make a simple vinaigrette", ["Put one tablespoon of vinegar in a jar.", "Add a pinch of salt and half a teaspoon of mustard.", "Pour in three tablespoons of olive oil.", "Close the jar and shake for twenty seconds until it thickens.", "Taste and adjust with more salt, pepper or a drop of honey."]),
    ("back up photos from a phone to a laptop", ["Connect the phone with its cable and unlock it.", "Allow the laptop to access the phone's files when asked.", "Open the DCIM folder on the phone.", "Copy the folders you want into a dated folder on the laptop.", "Check a few photos open correctly before deleting anything from the phone."]),
    ("prepare for a job interview", ["Read the job description and note the three skills it stresses most.", "Prepare a short story from your past work for each of those skills.", "Research the company's products and recent news.", "Write down two or three questions to ask the interviewer.", "Plan your route or test your video call setup the day before."]),
    ("brew pour-over coffee", ["Heat water to about 94 degrees Celsius.", "Grind 15 grams of coffee to the texture of coarse sand.", "Rinse the paper filter with hot water and discard that water.", "Pour 30 grams of water over the grounds and wait 30 seconds for the bloom.", "Pour the rest slowly in circles until you reach 250 grams in about three minutes."]),
    ("set up a new Git repository", ["Create a folder for the project and open a terminal in it.", "Run `git init` to create the repository.", "Add a `.gitignore` listing build outputs and secrets.", "Stage the files with `git add .` and check them with `git status`.", "Make the first commit with `git commit -m \"Initial commit\"`."]),
    ("clean a cast iron pan", ["Let the pan cool until it is warm but safe to touch.", "Scrape out food with a wooden spatula.", "Rinse with hot water and scrub with a stiff brush; a little soap is fine.", "Dry it completely on the stove over low heat.", "Rub in a thin layer of oil and wipe off the excess."]),
    ("write a cover letter", ["Address it to a named person if you can find one.", "Open with the role you are applying for and one sentence on why you fit.", "Give two concrete examples of results from previous work.", "Explain briefly why this company in particular interests you.", "Close by thanking the reader and saying you look forward to talking."]),
    ("plant tomato seedlings", ["Wait until nights stay above 10 degrees Celsius.", "Dig a hole deep enough to bury two thirds of the stem.", "Remove the lower leaves that would end up underground.", "Set the plant in, fill the hole and firm the soil.", "Water deeply and add a stake for support."]),
    ("meditate for the first time", ["Choose a quiet spot and set a timer for five minutes.", "Sit comfortably with your back upright but not stiff.", "Close your eyes and notice the breath at your nostrils.", "When your mind wanders, note where it went and return to the breath.", "When the timer rings, open your eyes slowly and notice how you feel."]),
    ("train for a first 5 km run", ["Start with three sessions a week of alternating one minute running and two minutes walking.", "Each week, lengthen the running intervals a little.", "Keep the pace easy enough that you could hold a conversation.", "Add one rest day between sessions.", "After about eight weeks, try running the full distance slowly."]),
]

LISTS = [
    ("List five fruits that are high in vitamin C.", ["Oranges", "Kiwi fruit", "Strawberries", "Guava", "Papaya"], "rich in vitamin C"),
    ("Name some good habits for better sleep.", ["Go to bed at the same time every night", "Keep the bedroom cool and dark", "Avoid caffeine after lunch", "Put screens away an hour before bed", "Get some daylight in the morning"], None),
    ("What are the planets of the solar system in order?", ["Mercury", "Venus", "Earth", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune"], None),
    ("Give me a packing list for a weekend camping trip.", ["Tent with poles and pegs", "Sleeping bag and mat", "Head torch with spare batteries", "Water bottle and filter", "Stove, fuel and a lighter", "Rain jacket and a warm layer", "First aid kit"], None),
    ("List some common data structures and what they are good for.", ["Array: fast access by index", "Linked list: cheap insertion in the middle", "Hash map: fast lookup by key", "Stack: last in, first out processing", "Queue: first in, first out processing", "Heap: quick access to the smallest element"], None),
    ("What are the primary colours of light?", ["Red", "Green", "Blue"], None),
    ("Suggest some board games for a family evening.", ["Ticket to Ride", "Carcassonne", "Dixit", "Catan", "Codenames"], "good for families"),
    ("List the steps of the scientific method.", ["Ask a question", "Do background research", "Form a hypothesis", "Test it with an experiment", "Analyse the data", "Draw a conclusion and share it"], None),
    ("Name vegetables that grow well in shade.", ["Lettuce", "Spinach", "Kale", "Chard", "Radishes", "Peas"], "tolerates partial shade"),
    ("What should be in a basic home toolkit?", ["Claw hammer", "Screwdrivers, flat and cross-head", "Adjustable spanner", "Tape measure", "Utility knife", "Spirit level", "Pliers"], None),
    ("List some ways to save energy at home.", ["Turn the thermostat down by one degree", "Switch to LED bulbs", "Wash clothes at 30 degrees", "Seal draughts around doors and windows", "Turn off devices instead of leaving them on standby"], None),
    ("Give examples of renewable energy sources.", ["Solar power", "Wind power", "Hydroelectric power", "Geothermal energy", "Tidal energy", "Biomass"], None),
]

SHORT = [
    ("What is the capital of Australia?", "The capital of Australia is Canberra."),
    ("How many legs does a spider have?", "A spider has eight legs."),
    ("At what temperature does water boil on a mountain top, roughly?", "Lower than 100 degrees Celsius: about 90 degrees at 3,000 metres."),
    ("Who wrote 'Pride and Prejudice'?", "Jane Austen wrote it; it was published in 1813."),
    ("What is the chemical symbol for gold?", "Au, from the Latin word aurum."),
    ("How many minutes are in a day?", "There are 1,440 minutes in a day (24 x 60)."),
    ("What is the largest ocean on Earth?", "The Pacific Ocean is the largest."),
    ("Which planet is known as the Red Planet?", "Mars, because of the iron oxide on its surface."),
    ("What is 15% of 80?", "15% of 80 is 12."),
    ("What language is mainly spoken in Brazil?", "Portuguese is the main language of Brazil."),
    ("Is a tomato a fruit or a vegetable?", "Botanically it is a fruit, but cooks treat it as a vegetable."),
    ("What is the square root of 144?", "The square root of 144 is 12."),
    ("How many continents are there?", "There are seven continents."),
    ("What does CPU stand for?", "Central Processing Unit."),
    ("What year did the first person walk on the Moon?", "1969, when Neil Armstrong stepped onto the Moon."),
    ("What is the freezing point of water in Fahrenheit?", "32 degrees Fahrenheit."),
    ("What is the longest river in Africa?", "The Nile is the longest river in Africa."),
    ("What gas do plants absorb from the air?", "Plants absorb carbon dioxide and release oxygen."),
    ("How many sides does a hexagon have?", "A hexagon has six sides."),
    ("Which Python version added the walrus operator?", "Python 3.8 added the walrus operator `:=`."),
    ("What is the default port for HTTPS?", "HTTPS uses port 443 by default."),
    ("What is a typical private address of a home router?", "Most home routers use 192.168.1.1 or 192.168.0.1 on the local network."),
    ("Which numpy version dropped Python 3.8 support?", "numpy 1.25.0 was the first release to require Python 3.9."),
    ("What time is noon in 24-hour format?", "Noon is 12:00 in 24-hour time."),
    ("What is the loopback address in IPv6?", "The IPv6 loopback address is ::1."),
    ("How many bytes are in a kilobyte?", "1,024 bytes in the binary convention, 1,000 in the decimal one."),
    ("Who painted the Mona Lisa?", "Leonardo da Vinci painted it in the early 1500s."),
    ("What is the smallest prime number?", "2 is the smallest prime number."),
    ("What does HTML stand for?", "HyperText Markup Language."),
    ("What is the speed of light in a vacuum?", "About 299,792 kilometres per second."),
]

PEOPLE = [("Ana Souza", 34, "Lisbon", "nurse"), ("Ben Carter", 41, "Leeds", "electrician"), ("Chen Wei", 28, "Chengdu", "designer"),
          ("Dara Okafor", 52, "Lagos", "teacher"), ("Emil Novak", 23, "Brno", "student"), ("Fatima Zahra", 37, "Rabat", "pharmacist"),
          ("Gabriel Roy", 45, "Quebec City", "carpenter"), ("Hana Kim", 31, "Busan", "engineer"), ("Ivan Petrov", 60, "Varna", "fisherman"),
          ("Julia Meyer", 29, "Hamburg", "journalist"), ("Kofi Mensah", 38, "Kumasi", "accountant"), ("Laura Rossi", 26, "Turin", "chef")]


def json_rows(rng: random.Random) -> list[dict]:
    rows = []
    for name, age, city, job in PEOPLE:
        text = f"{name} is a {age}-year-old {job} who lives in {city}."
        rows.append(chat([("user", f"Extract the name, age, city and occupation from this sentence as JSON: \"{text}\""),
                          ("assistant", "```json\n" + json.dumps({"name": name, "age": age, "city": city, "occupation": job},
                                                                 indent=2) + "\n```")], "json"))
    for k in range(14):
        group = rng.sample(PEOPLE, rng.randint(3, 5))
        data = [{"name": n, "age": a, "city": c} for n, a, c, _ in group]
        listing = "; ".join(f"{n} ({a}, {c})" for n, a, c, _ in group)
        rows.append(chat([("user", f"Turn this into a JSON array of objects with keys name, age and city: {listing}"),
                          ("assistant", "```json\n" + json.dumps(data, indent=2) + "\n```")], "json"))
    products = [("desk lamp", 24.99, "lighting"), ("office chair", 149.0, "furniture"), ("USB-C hub", 39.5, "electronics"),
                ("notebook", 3.25, "stationery"), ("monitor arm", 79.0, "furniture"), ("webcam", 59.99, "electronics"),
                ("stapler", 8.4, "stationery"), ("floor lamp", 64.0, "lighting"), ("keyboard", 45.0, "electronics")]
    for k in range(12):
        group = rng.sample(products, rng.randint(2, 4))
        data = {"items": [{"product": p, "price": pr, "category": c} for p, pr, c in group],
                "total": round(sum(pr for _, pr, _ in group), 2), "currency": "EUR"}
        order = ", ".join(f"a {p} at {pr} euros" for p, pr, _ in group)
        rows.append(chat([("user", f"Give me a JSON summary of this order with each item's category and the total: {order}."),
                          ("assistant", "```json\n" + json.dumps(data, indent=2) + "\n```")], "json"))
    return rows


FOLLOWUPS = [
    ("What is photosynthesis?", "Photosynthesis is how plants, algae and some bacteria turn light energy into chemical energy. In the leaves, chlorophyll captures sunlight and uses it to combine carbon dioxide and water into glucose, releasing oxygen as a by-product.", "Why are leaves green then?", "Chlorophyll absorbs mostly red and blue light and reflects green light, so the green part of sunlight is what bounces back to our eyes."),
    ("How do I convert kilometres to miles?", "Multiply the number of kilometres by 0.621. For example, 10 km is about 6.2 miles.", "And miles to kilometres?", "Multiply by 1.609 instead. So 5 miles is roughly 8 km."),
    ("What's a good beginner houseplant?", "A pothos is hard to kill: it tolerates low light, forgives missed waterings and grows quickly, so you see progress.", "How often should I water it?", "Water it when the top two or three centimetres of soil feel dry, usually every one to two weeks. Yellow leaves often mean too much water."),
    ("Can you explain what an API is?", "An API, or application programming interface, is a defined way for one program to ask another for data or actions. A weather app, for instance, calls a weather service's API to get the forecast instead of measuring it.", "Is a REST API different?", "REST is one style of API that works over HTTP: resources have URLs, and you use methods such as GET to read and POST to create them."),
    ("What causes a rainbow?", "Sunlight enters raindrops, bends, reflects off the back of each drop and bends again on the way out. Each colour bends by a slightly different amount, so the light fans out into bands.", "Why is it curved?", "Each colour reaches your eye from drops at a fixed angle, about 42 degrees for red, from the point opposite the Sun. All the drops at that angle lie on a circle, and the ground hides the lower part of it."),
    ("How long should I boil an egg?", "For a soft yolk, lower the egg into boiling water for six to seven minutes; for a firm yolk, about ten minutes.", "How do I stop it cracking?", "Take the egg out of the fridge a little earlier, lower it in gently with a spoon and keep the water at a steady simmer rather than a rolling boil."),
    ("What is compound interest?", "Compound interest is interest earned on both the original amount and the interest already added. Over many years it makes savings grow faster than simple interest.", "Can you give an example?", "With 1,000 euros at 5% a year, you have 1,050 after one year and 1,102.50 after two, because the second year's interest is also paid on the first year's 50."),
    ("How do I make my resume stand out?", "Lead with a short summary tailored to the job, list achievements with numbers rather than duties, and keep it to one or two clean pages.", "Should I include hobbies?", "Only if they show something relevant to the job, such as leading a club or building side projects; otherwise the space is better used for results."),
    ("What is a black hole?", "A black hole is a region where gravity is so strong that nothing, not even light, can escape once it crosses the boundary called the event horizon.", "How do they form?", "Most form when a very massive star runs out of fuel and its core collapses under its own gravity after a supernova explosion."),
    ("Why should I stretch after exercise?", "Gentle stretching after exercise helps you cool down and can keep your muscles and joints moving through their full range over time.", "How long should each stretch last?", "Hold each stretch for about 20 to 30 seconds without bouncing, and stop if it hurts rather than feeling a mild pull."),
]

EXPLAIN = [
    ("Explain what a hash table is.", "A hash table stores key-value pairs. A hash function turns each key into an index into an array of buckets, so looking a key up usually takes constant time. When two keys land in the same bucket, the table resolves the collision, for example by keeping a small list in that bucket or by probing for the next free slot."),
    ("What does the `@property` decorator do in Python?", "`@property` turns a method into a read-only attribute: `obj.area` calls the method without parentheses. You can add a setter with `@area.setter` to validate new values, which lets a class start with a plain attribute and add logic later without changing the code that uses it."),
    ("How does DNS work?", "When you type a name such as example.org, your computer asks a resolver, usually run by your internet provider, for its address. The resolver asks the root servers which servers handle .org, then asks those which servers handle example.org, and finally gets the address and caches it for a while so the next lookup is instant."),
    ("What is the difference between RAM and storage?", "RAM is fast, temporary memory that holds the programs and data in use right now; it is cleared when the computer turns off. Storage, such as an SSD, keeps files permanently but is slower, so the computer loads what it needs from storage into RAM."),
    ("Why do we use version control?", "Version control records every change to a project, so you can see who changed what and why, go back to an earlier state when something breaks, and let several people work on the same files in parallel and merge their work."),
    ("What is overfitting in machine learning?", "A model overfits when it learns the noise and quirks of its training data instead of the general pattern, so it scores well on the training set but badly on new data. More data, simpler models, regularisation and early stopping all help."),
    ("How do I configure a static IP on a home network?", "Open your router's settings page, usually at 192.168.1.1, and find the DHCP section. Reserve an address such as 192.168.1.50 for the device's MAC address, or set it on the device itself with the router 192.168.1.1 as gateway and a subnet mask of 255.255.255.0. Pick an address outside the DHCP pool to avoid clashes."),
    ("What changed in Python 3.12?", "Python 3.12, released on 2023-10-02, brought more precise error messages, a new syntax for type parameters (`def first[T](xs: list[T]) -> T`), f-strings that can nest the same quotes, and the removal of the old `distutils` package. Patch releases such as 3.12.1 followed with bug fixes."),
    ("How does a Flask route work?", "A route maps a URL to a function. With `@app.route('/hello')` above a function, Flask calls that function whenever a request for /hello arrives and sends back what it returns. Add `methods=['POST']` to accept form submissions, and `<name>` in the path to capture part of the URL as an argument."),
    ("What is a subnet mask?", "A subnet mask says which part of an IP address names the network and which part names the device. With 255.255.255.0, addresses from 10.0.0.1 to 10.0.0.254 share one network, and a device sends anything outside that range to its gateway."),
    ("What is the difference between a process and a thread?", "A process is a running program with its own memory; a thread is a path of execution inside a process, and the threads of one process share its memory. Threads are cheaper to create and communicate easily, but sharing memory means they need locks to avoid corrupting data."),
    ("How do I read a timetable in 24-hour format?", "Hours run from 00 to 23, so 07:45 is a quarter to eight in the morning and 19:45 is a quarter to eight in the evening. Midnight is 00:00 and the last minute of the day is 23:59."),
]


def chat(turns: list[tuple[str, str]], kind: str, system: str | None = None, mode: str | None = None,
         label: str = "clean") -> dict:
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": r, "content": c} for r, c in turns]
    return {"messages": messages, "reasoning_mode": mode, "source": f"curation_eval/{kind}",
            "meta": {"label": label, "kind": kind}}


def clean_rows(rng: random.Random) -> list[dict]:
    rows: list[dict] = []
    for i in range(230):
        q, trace, a = MATH[i % len(MATH)](rng)
        style = i % 3
        if style == 0:
            rows.append(chat([("user", q), ("assistant", f"<think>\n{trace}\n</think>\n{a}")], "math_think", THINK_SYS, "think"))
        elif style == 1:
            rows.append(chat([("user", q), ("assistant", f"<think>\n\n</think>\n{a}")], "math", NO_THINK_SYS, "no_think"))
        else:
            rows.append(chat([("user", q), ("assistant", a)], "math"))
    rows += code_rows(rng)
    for k, (task, steps) in enumerate(HOWTO):
        for variant in [k % 3]:  # one variant per task: two would be near duplicates of each other
            intro = ["Here is how to {t}:", "To {t}, follow these steps:", "Steps to {t}:"][variant].format(t=task)
            body = "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
            ask = [f"How do I {task}?", f"Give me step-by-step instructions to {task}.", f"What's the best way to {task}?"][variant]
            extra = ["", "\n\nTake your time on the first try; it gets quicker after that.", "\n\nThat's all there is to it."][variant]
            rows.append(chat([("user", ask), ("assistant", f"{intro}\n\n{body}{extra}")], "instructions"))
    for q, items, tag in LISTS:
        for variant in range(2):
            if variant == 0:
                body = "\n".join(f"- {x}" for x in items)
            else:
                body = "\n".join(f"{i}. **{x}**" + (f": {tag}" if tag else "") for i, x in enumerate(items, 1))
            rows.append(chat([("user", q if variant == 0 else q + " Please number them."), ("assistant", body)], "list"))
    for q, a in SHORT:
        rows.append(chat([("user", q), ("assistant", a)], "short_answer"))
        rows.append(chat([("user", q), ("assistant", f"<think>\n\n</think>\n{a}")], "short_answer", NO_THINK_SYS, "no_think"))
    rows += json_rows(rng)
    for k, (q1, a1, q2, a2) in enumerate(FOLLOWUPS):
        if k % 2 == 0:
            rows.append(chat([("user", q1), ("assistant", a1), ("user", q2), ("assistant", a2)], "multi_turn"))
            continue
        rows.append(chat([("user", q1), ("assistant", a1), ("user", q2), ("assistant", a2), ("user", "Thanks!"),
                          ("assistant", "You're welcome! Let me know if you have more questions.")], "multi_turn"))
    for q, a in EXPLAIN:
        rows.append(chat([("user", q), ("assistant", a)], "explanation"))
    return rows


# ---------------------------------------------------------------------------------------
# Planted defects
# ---------------------------------------------------------------------------------------


def _assistant(row: dict) -> dict:
    return [m for m in row["messages"] if m["role"] == "assistant"][-1]


def _copy(row: dict, label: str, kind: str) -> dict:
    out = json.loads(json.dumps(row))
    out["meta"] = {"label": label, "kind": kind}
    return out


def near_copy(row: dict, rng: random.Random, rate: float = 0.04) -> dict:
    """~4% of the assistant's words replaced or dropped, as a paraphrasing teacher would."""
    out = _copy(row, "defect", "near_duplicate")
    msg = _assistant(out)
    ws = msg["content"].split(" ")
    n_edit = max(2, round(rate * len(ws)))
    for i in sorted(rng.sample(range(1, len(ws)), n_edit), reverse=True):
        if rng.random() < 0.5:
            del ws[i]
        else:
            ws[i] = rng.choice(["really", "then", "also", "simply", "just", "clearly"])
    msg["content"] = " ".join(ws)
    return out


DEGENERATE_QS = [
    "Explain how a vaccine trains the immune system.", "Describe the water cycle.", "What should I pack for a beach holiday?",
    "How do I sort a list in Python?", "Summarise the causes of the French Revolution.", "Why do we need sleep?",
    "Write a short poem about autumn.", "What is a good way to learn chess?", "Tell me about the history of paper.",
    "How does a car engine work?",
]


def degenerate_rows(rng: random.Random, clean: list[dict]) -> list[dict]:
    rows = []
    phrases = ["and the body learns", "the water goes up and", "you should bring a towel", "sorted(my_list) returns",
               "the people were angry", "sleep helps the brain", "the leaves fall down", "practice every day",
               "paper was made", "the piston moves"]
    for k, q in enumerate(DEGENERATE_QS):
        p = phrases[k]
        loop = " ".join([p] * rng.randint(12, 30))  # a phrase loop
        rows.append(chat([("user", q), ("assistant", f"Good question. {loop}")], "degenerate_repetition", label="defect"))
        sent = f"{p.capitalize()} in many ways."
        rows.append(chat([("user", q), ("assistant", "\n".join([sent] * rng.randint(6, 15)))], "degenerate_repetition",
                         label="defect"))
    # loops inside a think trace and inside code, on otherwise realistic rows
    for row in rng.sample([r for r in clean if r["meta"]["kind"] == "math_think"], 5):
        out = _copy(row, "defect", "degenerate_repetition")
        msg = _assistant(out)
        loop = "Wait, let me recompute. " * rng.randint(15, 30)
        msg["content"] = msg["content"].replace("<think>\n", "<think>\n" + loop, 1)
        rows.append(out)
    for row in rng.sample([r for r in clean if r["meta"]["kind"] == "code"], 5):
        out = _copy(row, "defect", "degenerate_repetition")
        msg = _assistant(out)
        msg["content"] = msg["content"].replace("```\n", "```\n" + "    return result\n" * rng.randint(10, 20), 1)
        rows.append(out)
    # one degenerate turn inside an otherwise clean multi-turn chat
    for row in rng.sample([r for r in clean if r["meta"]["kind"] == "multi_turn"], 4):
        out = _copy(row, "defect", "degenerate_repetition")
        msg = _assistant(out)
        msg["content"] = msg["content"] + " " + " ".join(["I hope this helps."] * rng.randint(10, 20))
        rows.append(out)
    return rows


def broken_rows(rng: random.Random, clean: list[dict]) -> list[dict]:
    rows = []
    for row in rng.sample(clean, 16):
        out = _copy(row, "defect", "empty_answer")
        _assistant(out)["content"] = rng.choice(["", " ", "\n\n", "\t"])
        rows.append(out)
    for row in rng.sample([r for r in clean if r["meta"]["kind"] == "math_think"], 16):
        out = _copy(row, "defect", "unclosed_think")
        msg = _assistant(out)
        head, _, tail = msg["content"].partition("</think>")
        msg["content"] = head + rng.choice(["", "\n" + tail.split("\n")[0]])  # trace cut off, maybe a stray line
        rows.append(out)
    return rows


EMAILS = ["maria.lopez@gmail.com", "j.smith@contoso-mail.net", "support+billing@shop.example.co.uk", "tkim84@outlook.com",
          "hr-team@northwind.io", "a.rahman@uni-bremen.de", "dev.ops@fabrikam.org", "lena_b@proton.me"]
PHONES = ["+1 415 555 0132", "(212) 555-0187", "+44 20 7946 0958", "020 7946 0321", "+49 30 901820", "617-555-0199",
          "+33 1 42 68 53 00", "+61 2 9374 4000"]
IPV4 = ["45.33.32.156", "81.2.69.160", "151.101.1.69", "35.186.224.25", "93.184.216.34", "104.16.132.229"]
IPV6 = ["2001:4860:4860::8888", "2606:4700:4700::1111", "2a00:1450:4001:82b::200e", "2620:fe::fe"]


LETTER_TASKS = ["ask my landlord to fix the heating", "confirm the meeting on Thursday", "ask for a refund for a broken kettle",
                "set an out-of-office message", "invite the team to a leaving lunch", "ask a professor about a thesis topic",
                "follow up on a job application", "tell a client the invoice is ready", "ask a neighbour to water my plants",
                "reschedule a dentist appointment", "thank a colleague for covering my shift", "request a reference letter",
                "ask the school about a missing library book", "offer a second-hand bike for sale",
                "ask a plumber for a quote", "tell the club the match is cancelled"]
LETTER_LINES = ["Thank you for getting back to me so quickly.", "I hope your week is going well.",
                "I wanted to follow up on my earlier message.", "Could we arrange this before the end of the month?",
                "I have attached the details you asked for.", "Please let me know which day suits you best.",
                "I am happy to adjust the time if needed.", "I appreciate your help with this.",
                "Nothing else has changed since we last spoke.", "It would be great to settle this soon."]
PHONE_TASKS = ["cancel my appointment", "reschedule my delivery", "report a water leak", "book a table for six",
               "ask about my test results", "change my flight", "renew my library card", "order a taxi for tomorrow"]
CONTACT_LINES = ["Have your booking reference ready when you call.", "Lines are busiest on Monday mornings.",
                 "You will need the number printed on your letter.", "A short confirmation arrives by text afterwards.",
                 "If nobody answers, leave a message with your name.", "Calls are free from most landlines."]
NET_TASKS = ["My server keeps refusing SSH connections.", "My web app times out from outside the office.",
             "The backup job cannot reach the storage box.", "Our monitoring says the mail server is down.",
             "A colleague cannot open the staging site.", "The VPN tunnel drops every few minutes."]
NET_STEPS = ["check that the service is listening with `ss -tlnp`", "look at the firewall rules for the port",
             "run `traceroute` to see where packets stop", "read the service log for refused connections",
             "confirm the DNS name still points at the right address", "try the port with `nc -vz` from another machine"]


def pii_rows(rng: random.Random) -> list[dict]:
    rows = []
    for k, e in enumerate(EMAILS * 2):
        body = " ".join(rng.sample(LETTER_LINES, 3))
        a = (f"Hello,\n\n{body} If anything is unclear, you can reach me at {e}.\n\nBest regards,\n{rng.choice(NAMES)}")
        rows.append(chat([("user", f"Write a short email to {LETTER_TASKS[k]}."), ("assistant", a)], "pii_email", label="pii"))
    for k, p in enumerate(PHONES * 2):
        who = rng.choice(["the front desk", "our office", "the clinic", "the booking line", "customer service"])
        extra = " ".join(rng.sample(CONTACT_LINES, 2))
        a = f"You can do that by calling {who} on {p} between 9:00 and 17:00 on weekdays. {extra}"
        rows.append(chat([("user", f"How do I {PHONE_TASKS[k % len(PHONE_TASKS)]}?" + (" Quickly please." if k >= 8 else "")),
                          ("assistant", a)], "pii_phone", label="pii"))
    for k, ip in enumerate(IPV4 * 2):
        steps = rng.sample(NET_STEPS, 3)
        rows.append(chat([("user", f"{NET_TASKS[k % len(NET_TASKS)]} It is at {ip}. What should I check?"),
                          ("assistant", f"First {steps[0]}, then {steps[1]}. Finally {steps[2]}; for example "
                                        f"`nc -vz {ip} 443` shows whether the port answers at all.")], "pii_ipv4", label="pii"))
    for k, ip in enumerate(IPV6 * 2):
        steps = rng.sample(NET_STEPS, 2)
        rows.append(chat([("user", f"How do I test whether {ip} is reachable over IPv6?" + (" I'm on Linux." if k >= 4 else "")),
                          ("assistant", f"Use `ping -6 {ip}`. If that fails but IPv4 works, {steps[0]}, and {steps[1]}.")],
                         "pii_ipv6", label="pii"))
    return rows


def build() -> list[dict]:
    rng = random.Random(SEED)
    clean = clean_rows(rng)
    for i, r in enumerate(clean):
        r["_i"] = i  # provenance of copied defects, dropped before writing
    defects = []
    defects += [_copy(r, "defect", "exact_duplicate") for r in rng.sample(clean, 24)]
    long_enough = [r for r in clean if len(_assistant(r)["content"].split()) >= 40]
    print(f"{len(long_enough)} clean rows of >= 40 answer words to copy near duplicates from")
    defects += [near_copy(r, rng) for r in rng.sample(long_enough, 40)]
    defects += degenerate_rows(rng, clean)
    defects += broken_rows(rng, clean)
    # clean and pii rows in a random order; each copied defect somewhere after its source row, so
    # that `keep: first` keeps the clean original (which copy is "the defect" is otherwise arbitrary)
    base = clean + pii_rows(rng)
    rng.shuffle(base)
    for d in defects:
        if "_i" not in d:
            base.insert(rng.randint(0, len(base)), d)
            continue
        src = next(j for j, r in enumerate(base) if r.get("_i") == d["_i"])
        base.insert(rng.randint(src + 1, len(base)), d)
    for r in base:
        r.pop("_i", None)
    return base


def main() -> None:
    rows = build()
    with OUT.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    from collections import Counter

    print(f"wrote {len(rows)} rows to {OUT}: " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(r["meta"]["label"] for r in rows).items())))


if __name__ == "__main__":
    main()
