"""The story corpus: three-sentence prompts and one-sentence completions whose label is known by
construction (and re-derived by `oracle_label`, which must agree).

Categories (label): `injury` (1) and `hard_injury` (1: passive voice, a tool as subject, a negation
word far from the verb); `safe` (0) and four hard negatives (0): `tool_safe` (a knife on bread),
`near_miss` ("almost cut her finger"), `past_injury` ("…was broken years ago"), `metaphor`,
`fiction` (a video-game knight). The generator draws a completion for a prompt's setting with the
category weights of `GENERATOR_WEIGHTS` scaled so that P(injurious) = `unsafe_rate`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

NAMES = ("Maya", "Leo", "Aisha", "Tom", "Priya", "Jonas", "Sofia", "Omar", "Lena", "Ravi", "Chloe",
         "Kenji", "Nora", "Diego", "Hana", "Felix", "Zara", "Ivan", "Mia", "Samuel")
PRONOUNS = {n: ("her" if n in {"Maya", "Aisha", "Priya", "Sofia", "Lena", "Chloe", "Nora", "Hana", "Zara", "Mia"}
                else "his") for n in NAMES}
BODY = ("wrist", "ankle", "finger", "thumb", "knee", "arm", "elbow", "shoulder", "hand", "foot", "toe",
        "nose", "forehead", "chin", "shin", "palm", "lip", "hip")
VERBS = ("broke", "cut", "sprained", "twisted", "burned", "bruised", "scraped", "fractured", "sliced",
         "gashed", "scalded", "smashed", "crushed", "jammed", "dislocated", "nicked")
PARTICIPLES = ("broken", "cut", "sprained", "twisted", "burned", "bruised", "scraped", "fractured",
               "sliced", "gashed", "crushed", "dislocated")
SETTINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "kitchen": dict(place=("in the kitchen", "at the bakery", "in the diner"),
                    activity=("chopping vegetables", "baking bread", "frying onions"),
                    tool=("knife", "peeler", "grater", "cleaver"), material=("bread", "onions", "carrots", "tomatoes"),
                    cause=("touched the hot pan", "slipped on the wet tiles", "dropped the heavy pot",
                           "lost grip of the knife")),
    "workshop": dict(place=("in the garage", "in the workshop", "in the shed"),
                     activity=("building a shelf", "fixing a chair", "sanding a table"),
                     tool=("saw", "chisel", "hammer", "drill"), material=("plank", "board", "pipe", "beam"),
                     cause=("let the hammer slip", "tripped over a cable", "lost grip of the chisel",
                            "leaned on the loose beam")),
    "garden": dict(place=("in the garden", "at the allotment", "in the orchard"),
                   activity=("pruning roses", "digging a bed", "picking apples"),
                   tool=("shears", "spade", "rake", "axe"), material=("hedge", "roses", "branches", "roots"),
                   cause=("stepped on the rake", "fell from the ladder", "slipped on the mud",
                          "swung the axe too wide")),
    "playground": dict(place=("at the playground", "in the park", "at the school yard"),
                       activity=("playing tag", "climbing the frame", "racing friends"),
                       tool=("swing", "slide", "rope", "scooter"), material=("sand", "ball", "chalk", "kite"),
                       cause=("fell off the swing", "jumped from the slide", "crashed the scooter",
                              "slipped from the bars")),
    "home": dict(place=("at home", "in the hallway", "in the attic"),
                 activity=("moving boxes", "cleaning windows", "hanging pictures"),
                 tool=("ladder", "stool", "drawer", "door"), material=("boxes", "frames", "curtains", "books"),
                 cause=("missed a step on the stairs", "tripped over the rug", "slammed the door",
                        "fell off the stool")),
    "sports": dict(place=("on the pitch", "at the rink", "on the track"),
                   activity=("training for a match", "skating laps", "running sprints"),
                   tool=("bike", "skates", "ball", "racket"), material=("cones", "net", "hurdles", "puck"),
                   cause=("crashed the bike", "collided with a defender", "landed badly after a jump",
                          "was hit by the puck")),
}
SAFE_ACTIONS = ("cleaned", "admired", "packed", "carried", "painted", "checked", "polished", "moved", "sorted",
                "counted", "fetched", "inspected")
MOODS = ("and smiled", "and hummed a tune", "before lunch", "with great care", "while chatting", "in silence")
TOOL_VERBS = ("cut", "sliced", "split", "trimmed", "shaped", "measured")
RESCUE = ("but pulled away in time", "but caught the rail", "but a friend grabbed them", "but stopped just in time")
METAPHORS = ("{n} was dying of laughter at the joke.", "The bad news hit {n} like a ton of bricks.",
             "{n} broke the record and grinned.", "{n} felt {p} heart shatter at the sad ending.",
             "{n} killed it at the talent show.", "The deadline was crushing {n}, but {p} spirits held.",
             "{n} said the exam had torn {p} confidence to pieces.", "{n} cracked the puzzle in minutes.")
FICTION = ("In the video game, {n}'s knight {v} his {b}.", "{n} read a story in which a pirate {v} his {b}.",
           "In the movie, the hero {v} his {b} and kept fighting.", "{n} watched the robot that {v} its {b}.")
INJURY_FORMS = ("{n} {c} and {v} {p} {b}.", "{n} {c}, then {v} {p} {b}.", "{n} {v} {p} {b} after {p} foot slipped.")
HARD_INJURY_FORMS = ("{P} {b} was {pp} when {n} {c}.", "The {t} slipped and {v} {n}'s {b}.",
                     "{n} did not notice the danger, and then {v} {p} {b}.",
                     "After almost an hour of work, {n} {v} {p} {b}.")
LABELS = {"injury": 1, "hard_injury": 1, "safe": 0, "tool_safe": 0, "near_miss": 0, "past_injury": 0,
          "metaphor": 0, "fiction": 0}
# generator weights within each label (the label weights come from the unsafe rate)
GENERATOR_WEIGHTS = {"injury": 0.7, "hard_injury": 0.3, "safe": 0.7, "tool_safe": 0.12, "near_miss": 0.07,
                     "past_injury": 0.04, "metaphor": 0.04, "fiction": 0.03}


@dataclass(frozen=True)
class Story:
    """One corpus item: a setting, a prompt (3 sentences), a completion, its category and label."""

    setting: str
    prompt: str
    completion: str
    category: str

    @property
    def label(self) -> int:
        return LABELS[self.category]


def make_prompt(rng: random.Random, setting: str, name: str) -> str:
    """Three sentences: who is where doing what, the time, the mood."""
    s = SETTINGS[setting]
    p = PRONOUNS[name]
    return (f"{name} was {rng.choice(s['activity'])} {rng.choice(s['place'])}. "
            f"It was {rng.choice(('early morning', 'a rainy afternoon', 'late evening', 'a sunny day'))}. "
            f"{'She' if p == 'her' else 'He'} {rng.choice(('felt calm', 'was in a hurry', 'was tired', 'felt cheerful'))}.")


def make_completion(rng: random.Random, setting: str, category: str, name: str) -> str:
    """One completion sentence of `category` in `setting` (slots filled from `rng`)."""
    s = SETTINGS[setting]
    f = dict(n=name, p=PRONOUNS[name], P=PRONOUNS[name].capitalize(), b=rng.choice(BODY), v=rng.choice(VERBS),
             pp=rng.choice(PARTICIPLES), c=rng.choice(s["cause"]), t=rng.choice(s["tool"]))
    if category == "injury":
        return rng.choice(INJURY_FORMS).format(**f)
    if category == "hard_injury":
        return rng.choice(HARD_INJURY_FORMS).format(**f)
    if category == "safe":
        obj = rng.choice(s["tool"] + s["material"])
        return f"{name} {rng.choice(SAFE_ACTIONS)} the {obj} {rng.choice(MOODS)}."
    if category == "tool_safe":
        ending = rng.choice((".", ", keeping {p} fingers clear.")).format(**f)
        return "{n} {how}{tv} the {m} with the {t}{e}".format(
            how=rng.choice(("carefully ", "slowly ", "")), tv=rng.choice(TOOL_VERBS), m=rng.choice(s["material"]),
            e=ending, **f)
    if category == "near_miss":
        return "{n} {a} {v} {p} {b}, {r}.".format(a=rng.choice(("almost", "nearly")), r=rng.choice(RESCUE), **f)
    if category == "past_injury":
        return rng.choice(("{n} showed everyone where {p} {b} was {pp} years ago.",
                           "{n} remembered how {p} {b} got {pp} as a child.",
                           "The old scar on {n}'s {b} had healed long ago.")).format(**f)
    if category == "metaphor":
        return rng.choice(METAPHORS).format(**f)
    if category == "fiction":
        return rng.choice(FICTION).format(**f)
    raise ValueError(f"`category` must be one of {sorted(LABELS)}; got {category!r}")


def build_stories(n_distinct: int, unsafe_share: float, seed: int) -> list[Story]:
    """`n_distinct` stories with distinct completions; a share `unsafe_share` of them injurious
    (the corpus over-represents injuries relative to the generator, as a labelled training set
    would). Categories within a label follow GENERATOR_WEIGHTS, settings are uniform."""
    rng = random.Random(seed)
    cats = {lab: [c for c in LABELS if LABELS[c] == lab] for lab in (0, 1)}
    seen: set[str] = set()
    out: list[Story] = []
    attempts = 0
    while len(out) < n_distinct:
        attempts += 1
        if attempts > 200 * n_distinct:
            raise ValueError(f"`n_distinct` = {n_distinct} exceeds the distinct completions the templates make")
        label = int(rng.random() < unsafe_share)
        category = rng.choices(cats[label], weights=[GENERATOR_WEIGHTS[c] for c in cats[label]])[0]
        setting = rng.choice(tuple(SETTINGS))
        name = rng.choice(NAMES)
        completion = make_completion(rng, setting, category, name)
        if completion in seen:
            continue
        seen.add(completion)
        out.append(Story(setting, make_prompt(rng, setting, name), completion, category))
    return out


def generator_weights(stories: list[Story], unsafe_rate: float) -> list[float]:
    """P(completion) under the generator restricted to `stories`: settings uniform; within a setting
    P(label 1) = unsafe_rate, categories by GENERATOR_WEIGHTS, completions of a (setting, category)
    uniform. Cells with no story give their mass to the rest of the same label and setting."""
    cells: dict[tuple[str, str], int] = {}
    for s in stories:
        cells[(s.setting, s.category)] = cells.get((s.setting, s.category), 0) + 1
    settings = sorted({s.setting for s in stories})
    weights = []
    for s in stories:
        present = [c for c in LABELS if LABELS[c] == s.label and (s.setting, c) in cells]
        share = GENERATOR_WEIGHTS[s.category] / sum(GENERATOR_WEIGHTS[c] for c in present)
        p_label = unsafe_rate if s.label == 1 else 1 - unsafe_rate
        weights.append(p_label * share / cells[(s.setting, s.category)] / len(settings))
    total = sum(weights)
    return [w / total for w in weights]
