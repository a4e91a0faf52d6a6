"""Generate semsim/data.jsonl: (prompt, reference) pairs written for this project.

A response is scored by cosine similarity to the reference with all-MiniLM-L6-v2.
To build a set from any JSONL with `prompt` and `reference` fields, use
`workbench eval make-suite NAME --from semsim --data FILE.jsonl` instead of editing this.
Run: python evalsuites/semsim/make_data.py
"""

from __future__ import annotations

from pathlib import Path

from workbench.evals.suites import mark_smoke, write_jsonl

PAIRS = [
    ("What does a thermometer measure?", "A thermometer measures temperature."),
    ("Why do we brush our teeth?", "We brush our teeth to remove food and plaque and prevent cavities and gum disease."),
    ("What is photosynthesis?", "Photosynthesis is how plants use sunlight, water and carbon dioxide to make sugar and release oxygen."),
    ("What is the capital of France?", "The capital of France is Paris."),
    ("How many days are in a week?", "There are seven days in a week."),
    ("What do bees make?", "Bees make honey and beeswax."),
    ("Why does ice float on water?", "Ice floats because it is less dense than liquid water."),
    ("What is the largest planet in our solar system?", "Jupiter is the largest planet in our solar system."),
    ("What is a noun?", "A noun is a word that names a person, place, thing or idea."),
    ("Why do leaves change color in autumn?", "Leaves change color in autumn because chlorophyll breaks down, revealing yellow and red pigments."),
    ("What is the boiling point of water at sea level in Celsius?", "Water boils at 100 degrees Celsius at sea level."),
    ("What does a doctor do?", "A doctor diagnoses and treats illnesses and injuries to help people stay healthy."),
    ("How do you make a cup of tea?", "Boil water, pour it over a tea bag or leaves, let it steep for a few minutes, then remove the tea."),
    ("What is gravity?", "Gravity is the force that pulls objects toward each other, such as things falling to the ground."),
    ("What is the main ingredient in bread?", "The main ingredient in bread is flour."),
    ("Why do we need to sleep?", "Sleep lets the body and brain rest, recover and store memories."),
    ("What is a volcano?", "A volcano is an opening in the earth's crust where molten rock, ash and gas escape."),
    ("How many legs does a spider have?", "A spider has eight legs."),
    ("What is the opposite of hot?", "The opposite of hot is cold."),
    ("What is recycling?", "Recycling is turning used materials like paper, glass and plastic into new products."),
    ("What is the function of the heart?", "The heart pumps blood through the body."),
    ("Why is exercise healthy?", "Exercise strengthens the heart and muscles, improves mood and helps keep a healthy weight."),
    ("What is a rainbow?", "A rainbow is a band of colors formed when sunlight is bent and reflected by raindrops."),
    ("What language is spoken in Spain?", "Spanish is spoken in Spain."),
    ("What do plants need to grow?", "Plants need sunlight, water, air and nutrients from soil to grow."),
    ("What is a library?", "A library is a place where people can borrow books and other materials."),
    ("How does a compass work?", "A compass needle is a magnet that points toward the earth's magnetic north."),
    ("What is the freezing point of water in Celsius?", "Water freezes at 0 degrees Celsius."),
    ("What is an island?", "An island is a piece of land surrounded by water."),
    ("Why should you wash your hands?", "Washing your hands removes germs and helps prevent illness."),
    ("What is a computer program?", "A computer program is a set of instructions that tells a computer what to do."),
    ("What is the moon?", "The moon is the natural satellite that orbits the earth."),
    ("What does a carpenter do?", "A carpenter builds and repairs things made of wood."),
    ("How do birds fly?", "Birds fly by flapping their wings, which push air down and create lift."),
    ("What is a desert?", "A desert is a very dry area that gets little rain."),
    ("What is the sun?", "The sun is a star at the center of our solar system that gives us light and heat."),
    ("What is a vaccine?", "A vaccine trains the immune system to recognize and fight a disease."),
    ("What is an ocean?", "An ocean is a huge body of salt water that covers much of the earth."),
    ("Why do we have seasons?", "We have seasons because the earth's axis is tilted as it orbits the sun."),
    ("What is a friend?", "A friend is someone you know well, like and trust."),
    ("What is electricity?", "Electricity is the flow of electric charge that powers lights and machines."),
    ("What do cows eat?", "Cows eat grass, hay and other plants."),
    ("What is a map?", "A map is a drawing that shows where places are."),
    ("What is the tallest animal?", "The giraffe is the tallest animal."),
    ("Why is the ocean salty?", "The ocean is salty because rivers carry dissolved minerals from rocks into the sea."),
    ("What is a verb?", "A verb is a word that describes an action or a state."),
    ("How do you cross a street safely?", "Look left and right, wait for traffic to stop or a green signal, then cross at a crossing."),
    ("What is money used for?", "Money is used to buy goods and services and to save value."),
    ("What is a cloud?", "A cloud is a mass of tiny water droplets or ice crystals floating in the sky."),
    ("What is a triangle?", "A triangle is a shape with three sides and three angles."),
    ("What is the job of a firefighter?", "A firefighter puts out fires and rescues people in emergencies."),
    ("What are vegetables?", "Vegetables are edible plants or parts of plants such as carrots, spinach and peas."),
    ("What is wind?", "Wind is moving air caused by differences in air pressure."),
    ("What is a calendar?", "A calendar shows the days, weeks and months of a year."),
    ("Why do we need water?", "Our bodies need water to stay hydrated, control temperature and carry nutrients."),
    ("What is a mammal?", "A mammal is a warm-blooded animal with hair that feeds its young with milk."),
    ("What is the internet?", "The internet is a global network that connects computers so they can share information."),
    ("What is a bridge?", "A bridge is a structure built to cross a river, road or valley."),
    ("What is a recipe?", "A recipe is a list of ingredients and steps for making a dish."),
    ("What is a telescope used for?", "A telescope is used to see distant objects such as stars and planets."),
]
SMOKE = 30


def generate() -> list[dict]:
    rows = [{"id": f"sem-{i:04d}", "prompt": p, "reference": ref} for i, (p, ref) in enumerate(PAIRS)]
    return mark_smoke(rows, SMOKE)


if __name__ == "__main__":
    out = Path(__file__).with_name("data.jsonl")
    rows = generate()
    write_jsonl(out, rows)
    print(f"wrote {len(rows)} pairs ({sum(r['smoke'] for r in rows)} smoke) to {out}")
