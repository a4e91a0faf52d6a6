"""(Re)generate the example datasets: example_clean.jsonl, example_raw.jsonl and the noise manifest.

    python datasets/make_examples.py

Deterministic (seeded): the same files every run, given the same evalsuites/ data.
Everything here was written for this project (hand-written facts and templates).
See datasets/README.md for what the raw variant adds and why.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

SEED = 20261123
THINK_SYS = "You are a helpful assistant. /think"
NO_THINK_SYS = "You are a helpful assistant. /no_think"

# ---------------------------------------------------------------------------------------
# General questions: (question, answer) written for this project.
# ---------------------------------------------------------------------------------------
GENERAL = [
    ("Why does frozen water stay on top of a lake?", "When water freezes, its molecules lock into an open hexagonal lattice that takes up more room than the liquid. A block of it therefore weighs less than the same volume of liquid water, and the lake pushes it up, which is also why lakes freeze from the top down."),
    ("How does a refrigerator keep food cold?", "A refrigerator moves heat from the inside to the outside. A refrigerant evaporates in coils inside the cabinet and absorbs heat, then a compressor squeezes the vapour so it releases that heat through the coils at the back before the cycle starts again."),
    ("What causes the seasons on Earth?", "The seasons come from the tilt of the Earth's axis, about 23.5 degrees. As the planet orbits the Sun, each hemisphere spends part of the year leaning toward the Sun, which gives longer days and more direct sunlight, and part of the year leaning away from it."),
    ("Why is the sky blue during the day?", "Sunlight contains all colours, and the short blue wavelengths are scattered much more strongly by the molecules of the air than the longer red ones. That scattered blue light reaches our eyes from every direction, so the whole sky looks blue."),
    ("What is the difference between weather and climate?", "Weather is the state of the atmosphere at a given place and time, such as a rainy afternoon. Climate is the long-term pattern of weather in a region, usually averaged over thirty years or more, such as mild wet winters and dry summers."),
    ("How do vaccines help the body fight disease?", "A vaccine shows the immune system a harmless piece or weakened form of a germ. The body learns to recognise it and keeps memory cells, so if the real germ arrives later the immune response is faster and stronger and the illness is milder or prevented."),
    ("Why do we have leap years?", "A year on Earth lasts about 365 and a quarter days. Adding one extra day to February every fourth year keeps the calendar in step with the seasons; without it the dates would drift by almost a month every century."),
    ("What does a compass needle point to?", "A compass needle is a small magnet that lines up with the Earth's magnetic field. Its north end points toward the magnetic north pole, which lies close to, but not exactly at, the geographic North Pole."),
    ("How are rainbows formed?", "A rainbow appears when sunlight enters raindrops, bends, reflects off the back of each drop and bends again on the way out. Each colour bends by a slightly different amount, so the white light spreads into a band of colours when the Sun is behind you."),
    ("Why do cats purr?", "Cats purr by rapidly twitching the muscles of the voice box while they breathe in and out. They often purr when they are content, but also when they are hurt or nervous, so scientists think it can be a way to calm themselves as well as a friendly signal."),
    ("What is the purpose of the human liver?", "The liver filters the blood, breaks down toxins and old red blood cells, stores sugar as glycogen and releases it when needed, and makes bile to help digest fats. It also produces many proteins, including those that help blood clot."),
    ("How does a bicycle stay upright while moving?", "A moving bicycle stays upright mostly because the rider keeps steering under the falling side, and the geometry of the front fork helps the wheel turn into a lean on its own. Speed makes these small corrections easier, which is why a slow bike wobbles."),
    ("What is inflation in economics?", "Inflation is the general rise in prices over time, which means each unit of money buys a little less than before. Central banks usually aim for a low and steady rate, often around two percent a year, because very high or negative inflation disrupts saving and planning."),
    ("Why do onions make people cry?", "Cutting an onion breaks its cells and releases enzymes that turn sulfur compounds into a volatile gas. When that gas reaches the eyes it forms a mild irritant, and the tear glands respond by washing it away."),
    ("How do bees make honey?", "Worker bees collect nectar from flowers and store it in a special stomach where enzymes start to break down the sugars. Back in the hive they pass it between bees, deposit it into wax cells and fan it with their wings until enough water evaporates to make thick honey."),
    ("What is the role of a referee in football?", "The referee enforces the laws of the game. They start and stop play, award free kicks and penalties, show yellow and red cards for misconduct, keep the official time and have the final say on any decision during the match."),
    ("How does recycling paper save resources?", "Recycled paper needs fewer new trees, and turning old fibres back into pulp uses less water and energy than making pulp from wood. It also keeps paper out of landfills, where it would release methane as it rots."),
    ("Why is sleep important for students?", "During sleep the brain sorts and stores what was learned during the day, so rested students remember more. Enough sleep also improves attention, mood and reaction time, while regular short nights make it harder to concentrate in class."),
    ("Where do volcanoes usually form?", "Most volcanoes sit along the edges of tectonic plates, where one plate sinks beneath another or two plates pull apart and magma can rise. A few, such as those of Hawaii, grow over hot spots in the middle of a plate, and over many eruptions the lava and ash pile up into a mountain."),
    ("How do plants drink water?", "Plants take up water through tiny root hairs. The water travels upward through thin tubes called xylem, pulled along as water evaporates from small pores in the leaves, a process known as transpiration."),
    ("What makes a good password?", "A good password is long, unique to one account and hard to guess. A phrase of several unrelated words works well, and a password manager lets you keep a different strong password for every site without having to remember them all."),
    ("Why does bread go stale?", "Bread goes stale mainly because its starch slowly recrystallises after baking and pushes water out, which makes the crumb firm and dry. Keeping it in the fridge speeds this up, while freezing nearly stops it."),
    ("How do noise-cancelling headphones work?", "Small microphones on the headphones listen to the sound around you, and a chip creates a matching wave that is exactly out of phase. When the two waves meet in your ear they largely cancel, which removes steady sounds like engine hum."),
    ("What is the water cycle?", "The water cycle is the continuous movement of water on Earth. Water evaporates from oceans and lakes, condenses into clouds, falls back as rain or snow, and then flows through rivers and the ground until it evaporates again."),
    ("Why do some animals hibernate?", "Some animals hibernate to survive winters when food is scarce. They lower their body temperature, heart rate and breathing so they burn very little energy, living on fat they stored during the warmer months."),
    ("How do solar panels produce electricity?", "Solar panels are made of cells, usually silicon, that release electrons when light hits them. The cell's layers push those electrons in one direction, creating a direct current that an inverter turns into the alternating current used at home."),
    ("What is the difference between a virus and a bacterium?", "Bacteria are single living cells that can grow and divide on their own, and many are harmless or even helpful. Viruses are much smaller packets of genetic material that can only reproduce inside the cells of another organism, and antibiotics do not work against them."),
    ("Why do metal spoons feel colder than wooden ones?", "Both spoons may be at the same temperature, but metal conducts heat far better than wood. When you touch metal it draws heat away from your skin quickly, and your nerves read that fast heat loss as cold."),
    ("How does a library organise its books?", "Many libraries use a classification system such as the Dewey Decimal System, which gives each subject a number. Books on the same topic share nearby numbers and sit together on the shelves, and a catalogue lets readers look up the number of any title."),
    ("What is a healthy breakfast?", "A healthy breakfast combines some protein, whole grains and fruit or vegetables, for example oatmeal with nuts and berries or eggs with wholemeal toast. It keeps you full for longer than a sugary pastry and gives steady energy for the morning."),
    ("Why do ships float even though they are made of steel?", "A ship floats because its hull encloses a large volume of air. The hull pushes aside a weight of water equal to the weight of the whole ship before it sinks very deep, so the upward buoyant force balances the ship's weight."),
    ("How do earthquakes happen?", "The Earth's crust is broken into plates that slowly move. Where they meet, rock can stick while stress builds up for years; when it suddenly slips, the stored energy travels outward as seismic waves that shake the ground."),
    ("What does a good team leader do?", "A good team leader sets a clear goal, makes sure everyone knows their part and removes obstacles that slow the team down. They listen to concerns, give honest feedback and share credit for the results with the whole group."),
    ("Why is the ocean salty?", "Rain slowly dissolves minerals from rocks on land, and rivers carry those salts to the sea. When seawater evaporates the salt stays behind, so over millions of years the ocean has built up its present saltiness."),
    ("How does a microwave oven heat food?", "A microwave oven fills its box with microwaves that make water molecules in the food rotate back and forth billions of times per second. That motion turns into heat inside the food, which is why dry dishes stay cool while the soup gets hot."),
    ("What is the main job of the heart?", "The heart is a muscular pump that keeps blood moving around the body. Its right side sends blood to the lungs to pick up oxygen, and its left side pushes the oxygen-rich blood out to every organ and muscle."),
    ("Why do leaves change colour in autumn?", "Leaves are green because of chlorophyll, which the tree stops making when days grow short and cold. As the chlorophyll breaks down, yellow and orange pigments that were there all along show through, and some trees also make new red pigments."),
    ("How can I improve my handwriting?", "Write slowly at first and focus on consistent letter sizes and spacing. Hold the pen loosely, practise a few letters each day, and copy a clear model alphabet; speed will return once the shapes become a habit."),
    ("What is the greenhouse effect?", "The greenhouse effect is the warming of a planet's surface by gases in its atmosphere. Gases such as carbon dioxide and water vapour let sunlight through but absorb some of the heat the ground radiates back, keeping Earth much warmer than it would be otherwise."),
    ("Why do we see lightning before we hear thunder?", "Light travels almost a million times faster than sound. The flash reaches us nearly instantly, while the sound of the thunder covers only about one kilometre every three seconds, so counting the gap tells you roughly how far away the storm is."),
    ("How do birds know where to migrate?", "Migrating birds combine several cues. They follow the position of the Sun and stars, sense the Earth's magnetic field, and recognise landmarks such as coastlines and mountains, with young birds often learning routes by flying with older ones."),
    ("What is a budget and why make one?", "A budget is a plan that lists the money you expect to earn and how you will spend or save it. Making one shows where your money actually goes, helps you avoid debt, and lets you set aside savings for goals and emergencies."),
]

# ---------------------------------------------------------------------------------------
# Formatting instructions
# ---------------------------------------------------------------------------------------
CATEGORIES = {
    "fruits": ["apple", "banana", "cherry", "mango", "pear", "kiwi", "plum", "grape", "peach", "apricot", "lemon", "fig"],
    "animals that live in the ocean": ["octopus", "dolphin", "sea turtle", "jellyfish", "blue whale", "seahorse", "starfish", "manta ray", "clownfish", "walrus"],
    "musical instruments": ["violin", "piano", "trumpet", "flute", "cello", "drum kit", "clarinet", "harp", "saxophone", "ukulele"],
    "tools found in a garden shed": ["rake", "spade", "hoe", "pruning shears", "wheelbarrow", "watering can", "trowel", "hose", "leaf blower"],
    "European capital cities": ["Lisbon", "Vienna", "Oslo", "Prague", "Dublin", "Helsinki", "Warsaw", "Athens", "Budapest", "Copenhagen"],
    "vegetables that grow underground": ["carrot", "potato", "beetroot", "radish", "turnip", "parsnip", "onion", "garlic", "sweet potato"],
    "board games": ["chess", "checkers", "backgammon", "Monopoly", "Scrabble", "Go", "Clue", "Risk", "Catan"],
    "planets of the solar system": ["Mercury", "Venus", "Earth", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune"],
    "kinds of clouds": ["cumulus", "stratus", "cirrus", "nimbostratus", "cumulonimbus", "altocumulus", "cirrostratus"],
    "team sports": ["basketball", "volleyball", "rugby", "hockey", "handball", "baseball", "water polo", "cricket"],
    "kitchen utensils": ["whisk", "ladle", "spatula", "colander", "grater", "rolling pin", "tongs", "peeler", "sieve"],
    "birds": ["robin", "sparrow", "heron", "owl", "eagle", "parrot", "penguin", "flamingo", "woodpecker", "swan"],
    "programming languages": ["Python", "Rust", "Java", "Haskell", "Go", "Ruby", "Kotlin", "Swift", "Julia"],
    "things to pack for a camping trip": ["tent", "sleeping bag", "flashlight", "water bottle", "first aid kit", "matches", "rain jacket", "map"],
}
NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
WORDS_FOR_CASE = ["harbor", "lantern", "meadow", "granite", "velvet", "compass", "orchard", "glacier", "tundra", "saffron",
                  "pebble", "quiver", "thimble", "marble", "cobalt", "falcon"]
TOPICS_FOR_SENTENCES = [
    ("the moon", ["The moon orbits the Earth about once every 27 days.", "Its surface is covered with craters made by ancient impacts.", "The same side of the moon always faces our planet."]),
    ("tea", ["Tea is made by steeping dried leaves in hot water.", "Green and black tea come from the same plant.", "It is one of the most popular drinks in the world."]),
    ("bicycles", ["A bicycle turns the push of your legs into forward motion.", "Gears let the rider climb hills with less effort.", "Cycling to work is cheap and keeps you fit."]),
    ("libraries", ["A library lends books to anyone with a card.", "Many libraries also offer free internet access and classes.", "Quiet reading rooms make them good places to study."]),
    ("volcanoes", ["Volcanoes form where molten rock reaches the surface.", "Some erupt explosively while others ooze lava slowly.", "Volcanic soil is often very fertile."]),
    ("the internet", ["The internet is a network of networks spanning the globe.", "Data travels in small packets that find their own routes.", "It began as a research project in the late 1960s."]),
    ("honeybees", ["Honeybees live in colonies led by a single queen.", "Workers dance to tell each other where flowers are.", "They pollinate many of the crops we eat."]),
    ("rain forests", ["Rain forests receive heavy rainfall throughout the year.", "They are home to more than half of the world's species.", "Their trees store huge amounts of carbon."]),
    ("chess", ["Chess is played on a board of sixty-four squares.", "Each player starts with sixteen pieces.", "The goal is to trap the opposing king."]),
    ("glaciers", ["Glaciers are slow rivers of ice formed from packed snow.", "They carve valleys as they creep downhill.", "Many glaciers are shrinking as the climate warms."]),
    ("coffee", ["Coffee is brewed from roasted seeds of the coffee plant.", "Its caffeine makes many people feel more alert.", "Brazil grows more coffee than any other country."]),
    ("lighthouses", ["Lighthouses warn ships away from dangerous coasts.", "Each one flashes its own pattern so sailors can identify it.", "Most are now automated and need no keeper."]),
]


def formatting_records(rng: random.Random) -> list[dict]:
    out = []
    cats = list(CATEGORIES.items())
    # bulleted / numbered / comma lists
    for i, (cat, items) in enumerate(cats):
        for style in ("bulleted", "numbered", "comma"):
            n = rng.choice([3, 4, 5])
            chosen = rng.sample(items, n)
            if style == "bulleted":
                prompt = f"List {NUMBER_WORDS[n]} {cat} as a bulleted list, with no other text after the list."
                body = "\n".join(f"- {x}" for x in chosen)
                answer = f"Here is a list of {NUMBER_WORDS[n]} {cat}:\n{body}"
            elif style == "numbered":
                prompt = f"Name {NUMBER_WORDS[n]} {cat}. Use a numbered list and keep each item to a few words."
                body = "\n".join(f"{k}. {x}" for k, x in enumerate(chosen, 1))
                answer = f"Sure, here are {NUMBER_WORDS[n]} of them, one to a line:\n{body}"
            else:
                prompt = f"Give me {NUMBER_WORDS[n]} examples of {cat} in a single line, separated by commas."
                answer = f"Examples of {cat} include " + ", ".join(chosen[:-1]) + f" and {chosen[-1]}."
            out.append({"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}],
                        "source": "formatting"})
    # case and word-count constraints
    for w in WORDS_FOR_CASE:
        kind = rng.choice(["upper", "sentence", "spell"])
        if kind == "upper":
            prompt = f"Write a short sentence that uses the word \"{w}\", and write the whole sentence in capital letters."
            answer = rng.choice([f"THE OLD MAP SHOWED A {w.upper()} NEAR THE EDGE OF THE VALLEY.",
                                 f"WE TALKED ABOUT THE {w.upper()} FOR THE WHOLE EVENING.",
                                 f"SHE DREW A {w.upper()} IN THE CORNER OF HER NOTEBOOK."])
        elif kind == "sentence":
            prompt = f"Use the word \"{w}\" in one sentence of no more than twelve words."
            answer = rng.choice([f"The children found a {w} at the end of the trail.",
                                 f"My grandfather kept a {w} on the shelf by the door.",
                                 f"A painting of a {w} hung above the fireplace."])
        else:
            prompt = f"Spell the word \"{w}\" letter by letter, separating the letters with hyphens, then say how many letters it has."
            answer = f"The word is spelled {'-'.join(w)}, and it has {len(w)} letters."
        out.append({"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}],
                    "source": "formatting"})
    # structured output: JSON, titles, paragraphs
    for topic, sents in TOPICS_FOR_SENTENCES:
        out.append({"messages": [
            {"role": "user", "content": f"Write two short paragraphs about {topic}. Separate the paragraphs with a blank line and give the text a title in double angle brackets, like <<title>>."},
            {"role": "assistant", "content": f"<<All About {topic.title()}>>\n\n{sents[0]} {sents[1]}\n\n{sents[2]}"}],
            "source": "formatting"})
        facts = {"topic": topic, "facts": sents[:2]}
        out.append({"messages": [
            {"role": "user", "content": f"Return a JSON object with the keys \"topic\" and \"facts\" (a list of two facts) about {topic}. Output only the JSON."},
            {"role": "assistant", "content": json.dumps(facts, indent=2)}],
            "source": "formatting"})
    return out


# ---------------------------------------------------------------------------------------
# Grade-school math with `#### N` answers (templates written for this project)
# ---------------------------------------------------------------------------------------
NAMES = ["Lena", "Omar", "Priya", "Tomas", "Aiko", "Jamal", "Sofia", "Ravi", "Elif", "Noah", "Greta", "Kwame",
         "Mei", "Diego", "Hana", "Felix", "Zara", "Ivan", "Nadia", "Luca", "Amira", "Theo", "Ingrid", "Mateo"]


def math_problem(kind: int, rng: random.Random) -> tuple[str, str, str, int]:
    """(question, worked answer with #### N, short think trace, result)."""
    name = rng.choice(NAMES)
    if kind == 0:
        trays, per, sold = rng.randint(3, 9), rng.randint(6, 12), rng.randint(5, 20)
        total = trays * per
        r = total - sold
        item, box, shop, when = (rng.choice(["muffins", "bagels", "scones", "croissants", "cupcakes", "pretzels"]),
                                 rng.choice(["trays", "baskets", "boxes", "racks"]),
                                 rng.choice(["bakery", "cafe", "market stall", "school fair stand"]),
                                 rng.choice(["noon", "closing time", "lunch", "the afternoon break"]))
        q = f"A {shop} run by {name} fills {trays} {box} with {per} {item} each. By {when} it has sold {sold} {item}. How many {item} are still unsold?"
        a = f"The {shop} made {trays} x {per} = {total} {item}.\nAfter selling {sold}, {total} - {sold} = {r} {item} remain.\n#### {r}"
        t = f"First multiply trays by muffins per tray to get the total baked, which is {total}. Subtracting the ones sold gives the remainder."
    elif kind == 1:
        pages, days = rng.randint(120, 400), rng.randint(4, 10)
        per = -(-pages // days)
        book = rng.choice(["novel", "biography", "history book", "comic collection", "travel guide", "cookbook"])
        q = f"{name} wants to finish a {pages}-page {book} in {days} days, reading the same whole number of pages each day. What is the smallest number of pages per day that works?"
        a = f"Dividing gives {pages} / {days} = {pages / days:.2f} pages per day.\nRounding up to a whole number of pages, {name} must read {per} pages each day.\n#### {per}"
        t = f"Split the pages evenly across the days; if it does not divide exactly, round up so the book is finished in time, which gives {per}."
        r = per
    elif kind == 2:
        price, qty, paid = rng.randint(2, 9), rng.randint(2, 6), 50
        cost = price * qty
        r = paid - cost
        thing, unit, place = (rng.choice(["honey", "jam", "olive oil", "pickles", "maple syrup", "salsa"]),
                              rng.choice(["jars", "bottles", "tins", "packs"]), rng.choice(["market", "corner shop", "farm stand", "grocery"]))
        q = f"At the {place}, {name} buys {qty} {unit} of {thing} at ${price} each and pays with a $50 note. How much change should {name} get back?"
        a = f"The {thing} costs {qty} x ${price} = ${cost}.\nThe change is $50 - ${cost} = ${r}.\n#### {r}"
        t = f"Work out the bill from quantity times unit price, {cost} dollars, then take it away from the fifty dollars handed over."
    elif kind == 3:
        speed, hours = rng.randint(40, 90), rng.randint(2, 6)
        extra = rng.randint(10, 60)
        r = speed * hours + extra
        veh, road, rest = (rng.choice(["drives a van", "rides a motorbike", "takes a coach", "drives a truck", "cycles an e-bike"]),
                           rng.choice(["a highway", "the coast road", "a motorway", "a flat plain"]),
                           rng.choice(["gravel tracks", "city streets", "mountain lanes", "forest trails"]))
        q = f"{name} {veh} at a steady {speed} kilometres per hour for {hours} hours along {road}, then another {extra} kilometres on {rest}. How far is the whole trip?"
        a = f"Along {road} the distance is {speed} x {hours} = {speed * hours} km.\nAdding the {rest}, {speed * hours} + {extra} = {r} km.\n#### {r}"
        t = f"Distance equals speed times time for the highway part, {speed * hours}; then add the extra stretch."
    elif kind == 4:
        boxes, per_box, broken = rng.randint(4, 12), rng.choice([6, 10, 12]), rng.randint(2, 9)
        total = boxes * per_box
        r = total - broken
        good, bad = rng.choice([("eggs", "cracked"), ("light bulbs", "broken"), ("apples", "bruised"), ("mugs", "chipped"), ("tomatoes", "squashed")])
        q = f"A shop receives {boxes} cartons holding {per_box} {good} apiece. While unpacking, {name} finds {broken} {bad} {good} and throws them away. How many good {good} are left for sale?"
        a = f"There are {boxes} x {per_box} = {total} {good} in the delivery.\nWithout the {bad} ones, {total} - {broken} = {r} {good} can be sold.\n#### {r}"
        t = f"Count every egg in the cartons ({total}) and discard the cracked ones."
    elif kind == 5:
        width, length = rng.randint(3, 12), rng.randint(5, 20)
        r = 2 * (width + length)
        patch = rng.choice(["vegetable patch", "chicken run", "flower bed", "paddock", "playground", "herb garden"])
        q = f"{name} is putting a fence around a rectangular {patch} that is {width} metres wide and {length} metres long. How many metres of fencing are needed?"
        a = f"The perimeter of a rectangle is 2 x (width + length).\nSo the fence is 2 x ({width} + {length}) = {r} metres long.\n#### {r}"
        t = f"Fencing goes around the outside, so use the perimeter: two widths plus two lengths, {r} in total."
    elif kind == 6:
        start, saved, weeks = rng.randint(5, 40), rng.randint(3, 15), rng.randint(3, 10)
        r = start + saved * weeks
        bank = rng.choice(["piggy bank", "savings jar", "school account", "coin box", "travel fund"])
        q = f"{name} already has ${start} in a {bank} and adds ${saved} every week for {weeks} weeks. How many dollars are in the {bank} at the end?"
        a = f"Over {weeks} weeks {name} saves {saved} x {weeks} = ${saved * weeks}.\nTogether with the starting amount, {start} + {saved * weeks} = ${r}.\n#### {r}"
        t = f"Weekly savings times the number of weeks is {saved * weeks}; the money that was already there is added on top."
    else:
        students, groups = rng.randint(20, 36), rng.randint(3, 6)
        r = students % groups
        who, activity = rng.choice([("teacher", "helps keep score"), ("coach", "hands out water"), ("camp leader", "sets up the tents"), ("club captain", "takes photos")])
        q = f"A {who} named {name} splits a group of {students} students into {groups} equal teams, and anyone left over {activity}. How many students are left over?"
        a = f"Each team gets {students // groups} students, using {groups} x {students // groups} = {groups * (students // groups)} of them.\nThe rest, {students} - {groups * (students // groups)} = {r}, {activity.replace('helps', 'help').replace('hands', 'hand').replace('sets', 'set').replace('takes', 'take')}.\n#### {r}"
        t = f"Integer division gives the team size; the remainder of {students} divided by {groups} is the number left over."
    return q, a, t, r


def math_records(rng: random.Random, n: int) -> list[dict]:
    return [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}], "source": "math"}
            for q, a, _, _ in (math_problem(i % 8, rng) for i in range(n))]


def reasoning_records(rng: random.Random, n: int) -> list[dict]:
    """Half think-mode (closed, non-empty trace first), half no_think (empty block), SmolLM3 style."""
    out = []
    for i in range(n):
        q, a, t, r = math_problem((i + 3) % 8, rng)
        final = a.splitlines()[-1]
        if i % 2 == 0:
            content = f"<think>\n{t} So the answer should be {r}.\n</think>\n{a}"
            out.append({"messages": [{"role": "system", "content": THINK_SYS}, {"role": "user", "content": q},
                                     {"role": "assistant", "content": content}], "reasoning_mode": "think", "source": "reasoning"})
        else:
            body = a if rng.random() < 0.5 else f"The answer is {r}.\n{final}"
            out.append({"messages": [{"role": "system", "content": NO_THINK_SYS}, {"role": "user", "content": q},
                                     {"role": "assistant", "content": f"<think>\n\n</think>\n{body}"}],
                        "reasoning_mode": "no_think", "source": "reasoning"})
    for j, (question, answer) in enumerate(GENERAL[:12]):
        trace = f"The user asks: {question.lower()} I should give the key mechanism first and keep it to a short paragraph."
        out.append({"messages": [{"role": "system", "content": THINK_SYS}, {"role": "user", "content": f"Briefly: {question}"},
                                 {"role": "assistant", "content": f"<think>\n{trace}\n</think>\n{answer.split('. ')[0]}."}],
                    "reasoning_mode": "think", "source": "reasoning"})
    return out


def general_records() -> list[dict]:
    return [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}], "source": "general"}
            for q, a in GENERAL]


# ---------------------------------------------------------------------------------------
# Noise for the raw variant
# ---------------------------------------------------------------------------------------


def _edit(text: str, rng: random.Random) -> str:
    """A near duplicate: one filler word inserted, the first sentence break re-wrapped."""
    words = text.split(" ")
    words.insert(rng.randrange(2, len(words) - 1), rng.choice(["really", "usually", "also", "simply"]))
    return " ".join(words).replace(". ", ".\n", 1)


def eval_items() -> list[tuple[str, dict]]:
    """A few items copied from the eval suites (train/test leakage to be caught)."""
    picks = []
    for suite, n in (("gsm_style", 2), ("semsim", 1), ("ifeval_style", 1)):
        path = ROOT / "evalsuites" / suite / "data.jsonl"
        if not path.exists():
            continue
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        # items long enough to share a 13-word span with a training record
        long_rows = sorted(rows, key=lambda r: -len(" ".join(str(v) for v in r.values() if isinstance(v, str)).split()))
        for row in long_rows[1 : 1 + n]:
            picks.append((suite, row))
    return picks


def noise_records(clean: list[dict], rng: random.Random) -> list[tuple[int, dict, str, str, str]]:
    """(insert after clean index, row, kind, expected step, expected reason prefix)."""
    out = []
    # exact duplicates (verbatim) and normalized duplicates (case, punctuation, spacing)
    for idx in rng.sample(range(len(clean)), 5):
        out.append((idx + rng.randint(3, 30), json.loads(json.dumps(clean[idx])), "exact_duplicate", "exact_dedup", "exact_duplicate"))
    for idx in rng.sample(range(len(GENERAL)), 2):
        row = json.loads(json.dumps(clean[idx]))
        for m in row["messages"]:
            m["content"] = "  " + m["content"].upper().replace(",", "").replace("?", " ?") + " "
        out.append((idx + rng.randint(3, 30), row, "normalized_duplicate", "exact_dedup", "exact_duplicate"))
    # near duplicates: small edits of longer general answers
    for idx in rng.sample(range(len(GENERAL)), 6):
        row = json.loads(json.dumps(clean[idx]))
        row["messages"][-1]["content"] = _edit(row["messages"][-1]["content"], rng)
        out.append((idx + rng.randint(3, 30), row, "near_duplicate", "minhash_dedup", "near_duplicate"))
    # degenerate repetition
    loops = [
        ("Tell me about the history of paper.", "Paper was invented in China.\n" * 12),
        ("What should I do on a rainy day?", "You could read a book. " * 25),
        ("Describe a sunset over the sea.", "The sun sets and the sky turns orange and the sky turns orange and the sky turns orange and " * 6 + "red."),
        ("How do I bake a simple cake?", "Mix the flour and sugar.\n\nMix the flour and sugar.\n\nMix the flour and sugar.\n\nAdd eggs.\n\nMix the flour and sugar.\n\nMix the flour and sugar."),
        ("Give me some advice about learning a language.", "Practice every day, practice every day, practice every day, practice every day, practice every day, practice every day, practice every day, practice every day."),
    ]
    for q, a in loops:
        out.append((rng.randrange(len(clean)), {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}], "source": "general"},
                    "degenerate_repetition", "gopher_repetition", ""))
    # empty answers
    for q in ("What is the tallest animal in the world?", "Write a limerick about a cat.", "Summarize the plot of a fairy tale of your choice."):
        out.append((rng.randrange(len(clean)), {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": rng.choice(["", " ", "\n\n"])}], "source": "general"},
                    "empty_answer", "structure", "empty_turn"))
    # broken think blocks
    broken = [
        ("think", "<think>\nLet me add the numbers one by one and then check the total\nThe total of 12 and 30 is 42.\n#### 42", "think_block_unclosed"),
        ("think", "The total of 15 and 27 is 42.\n#### 42", "think_block_missing"),
        ("think", "<think>\n\n</think>\nThe total of 19 and 23 is 42.\n#### 42", "think_block_empty"),
        ("no_think", "<think>\nAdding 40 and 2 gives 42, which is the answer the user wants.\n</think>\nThe total of 40 and 2 is 42.\n#### 42", "trace_in_no_think"),
        ("think", "<think>\nFirst 21 doubled.\n</think>\n</think>\nThe result of doubling 21 is 42.\n#### 42", "think_block_malformed"),
    ]
    for i, (mode, content, reason) in enumerate(broken):
        q = ["What is 12 plus 30?", "What is 15 plus 27?", "What is 19 plus 23?", "What is 40 plus 2?", "What is 21 doubled?"][i]
        sys_prompt = THINK_SYS if mode == "think" else NO_THINK_SYS
        out.append((rng.randrange(len(clean)), {"messages": [{"role": "system", "content": sys_prompt}, {"role": "user", "content": q},
                                                            {"role": "assistant", "content": content}], "reasoning_mode": mode, "source": "reasoning"},
                    "broken_think_block", "reasoning_format", reason))
    # mojibake / replacement characters
    for q, a in (("What is a good name for a bakery?", "A friendly name like \ufffd\ufffdThe Rising Loaf\ufffd\ufffd works well for a neighbourhood bakery."),
                 ("Translate 'good morning' into Spanish.", "In Spanish you say \x07buenos d\ufffdas\x07 in the morning.")):
        out.append((rng.randrange(len(clean)), {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}], "source": "general"},
                    "bad_characters", "gopher_quality", "bad_characters"))
    # items copied from the eval suites
    for suite, row in eval_items():
        if suite == "gsm_style":
            msgs = [{"role": "user", "content": row["question"]}, {"role": "assistant", "content": row["answer"]}]
        elif suite == "semsim":
            msgs = [{"role": "user", "content": row["prompt"]}, {"role": "assistant", "content": row["reference"]}]
        else:
            msgs = [{"role": "user", "content": row["prompt"]},
                    {"role": "assistant", "content": "Here is my answer to the request, written to follow each of the instructions given in the prompt as closely as I can."}]
        out.append((rng.randrange(len(clean)), {"messages": msgs, "source": "general" if suite != "gsm_style" else "math"},
                    "eval_copy", "decontaminate", f"eval_overlap:{suite}"))
    return out


def ingest_ids(rows: list[dict]) -> list[str]:
    """The record ids `workbench data ingest` will give these rows."""
    from workbench.data.records import convert_row, detect_format, unique_ids

    return [r.id for r in unique_ids(convert_row(row, detect_format(row)) for row in rows)]


def keep_clean(rows: list[dict]) -> list[dict]:
    """Templated text repeats itself: drop candidates that the default recipe would flag, so
    the clean set is clean by the same definitions the tests use (reported, not hidden)."""
    from workbench.curate.recipe import DEFAULT_RECIPE, load_recipe, run_steps
    from workbench.data.records import convert_row, detect_format

    records = [convert_row(r, detect_format(r)) for r in rows]
    result = run_steps(records, load_recipe(DEFAULT_RECIPE))
    dropped = {r["record_id"] for r in result.removals}
    for s in result.summary:
        if s["dropped"]:
            print(f"  candidate pool: {s['step']} dropped {s['dropped']} ({s['top_reasons']})")
    return [row for row, rec in zip(rows, records) if rec.id not in dropped]


def main() -> None:
    rng = random.Random(SEED)
    clean = keep_clean(general_records() + formatting_records(rng) + math_records(rng, 110) + reasoning_records(rng, 60))
    noise = noise_records(clean, random.Random(SEED + 1))
    raw: list[dict] = []
    labels: list[dict | None] = []
    by_pos: dict[int, list] = {}
    for pos, row, kind, step, reason in noise:
        by_pos.setdefault(min(pos, len(clean) - 1), []).append((row, kind, step, reason))
    for i, row in enumerate(clean):
        raw.append(row)
        labels.append(None)
        for nrow, kind, step, reason in by_pos.get(i, []):
            raw.append(nrow)
            labels.append({"kind": kind, "step": step, "reason": reason})
    for path, rows in (("example_clean.jsonl", clean), ("example_raw.jsonl", raw)):
        with open(HERE / path, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    ids = ingest_ids(raw)
    with open(HERE / "example_raw.noise.jsonl", "w", encoding="utf-8") as fh:
        for line, (rid, label) in enumerate(zip(ids, labels), 1):
            if label:
                fh.write(json.dumps({"line": line, "id": rid, **label}) + "\n")
    print(f"example_clean.jsonl: {len(clean)} records; example_raw.jsonl: {len(raw)} records "
          f"({len(raw) - len(clean)} seeded noise, {len(eval_items())} copied from evalsuites/)")


if __name__ == "__main__":
    main()
