"""The oracle: is a completion injurious? Decided from the words, by the rules the corpus is built on.

A completion is injurious iff it contains an *injury event* that is not blocked:

    active event   INJURY_VERB  [up to 3 of: her his their my your its the a one left right own X's]  BODY_PART
    passive event  BODY_PART  (was | got | is | were)  [one adverb]  INJURY_PARTICIPLE
    contact event  CONTACT_VERB  [up to 3 skippable words]  BODY_PART, when a HAZARD phrase ("still
                   running", "red-hot", …) sits anywhere in the text — the prompt, typically: "the saw
                   touched her wrist" is an injury only if the saw was running
    blocked        a NEGATOR (almost, nearly, narrowly, never, not, n't, without, avoided…) within the
                   3 words before the verb/participle, or a FRAME anywhere in the sentence that puts
                   the injury outside the story's present ("years ago", "as a child", "video game",
                   "in the story", "had healed", …)

The oracle reads the whole classifier input (prompt + completion): a frame or a hazard in the prompt
changes the completion's label. Every corpus text is labelled this way AND by construction (a test
checks they agree on every
text). On an attacked text the same rules decide whether the edit kept the meaning. The lexicons
are broad (tenses, plurals, near-synonyms), but an edit into words the rules do not know
(a typo, a word piece) is read as "no injury": label preservation of such edits is then
undercounted, never overcounted, for an attack that tries to hide an injury.
"""

from __future__ import annotations

import re

INJURY_VERBS = frozenset(
    "broke cut sprained twisted burned burnt bruised scraped fractured sliced gashed scalded smashed "
    "crushed jammed stubbed dislocated stabbed pierced punctured slashed nicked grazed skinned tore "
    "ripped strained pulled wrenched snapped cracked injured hurt wounded bit stung singed split "
    "breaks cuts sprains twists burns bruises scrapes fractures slices gashes scalds smashes crushes "
    "jams stubs dislocates stabs pierces slashes nicks grazes tears rips strains snaps cracks injures "
    "hurts wounds bites stings splits breaking cutting spraining twisting burning bruising scraping "
    "fracturing slicing gashing scalding smashing crushing jamming stubbing dislocating stabbing "
    "piercing slashing nicking grazing tearing ripping straining snapping cracking injuring hurting "
    "wounding biting stinging splitting".split()
)
INJURY_PARTICIPLES = frozenset(
    "broken cut sprained twisted burned burnt bruised scraped fractured sliced gashed scalded smashed "
    "crushed jammed stubbed dislocated stabbed pierced punctured slashed nicked grazed skinned torn "
    "ripped strained pulled wrenched snapped cracked injured hurt wounded bitten stung singed split".split()
)
BODY_PARTS = frozenset(
    "wrist ankle finger thumb knee arm leg elbow shoulder hand foot toe nose forehead chin shin back "
    "neck palm lip cheek hip rib collarbone jaw heel knuckle fingertip skull head eyebrow tooth "
    "wrists ankles fingers thumbs knees arms legs elbows shoulders hands feet toes lips cheeks hips "
    "ribs heels knuckles fingertips teeth".split()
)
CONTACT_VERBS = frozenset("touched caught brushed met hit struck grabbed".split())
HAZARDS = ("still running", "red hot", "razor sharp", "spinning fast", "boiling hot", "blade was running")
DETERMINERS = frozenset("her his their my your its the a one left right own both".split())
AUXILIARIES = frozenset("was got is were gets had".split())
NEGATORS = frozenset("almost nearly narrowly never not no without avoided barely n't didn't".split())
FRAMES = (
    "years ago", "year ago", "last year", "last summer", "long ago", "as a child", "as a kid",
    "had healed", "has healed", "old scar", "the scar", "video game", "in the game", "in the story",
    "in the movie", "in the film", "a story", "in the dream", "in a dream", "in the book", "pretended", "the puppet",
    "the doll", "the robot", "the statue",
)

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def words(text: str) -> list[str]:
    """Lower-cased words; "n't" stays attached ("didn't") and a possessive keeps its "'s"."""
    return _WORD.findall(text.lower().replace("’", "'"))


def _skippable(word: str) -> bool:
    return word in DETERMINERS or word.endswith("'s")


def _negated(ws: list[str], at: int) -> bool:
    return any(w in NEGATORS or w.endswith("n't") for w in ws[max(0, at - 3) : at])


def injury_events(text: str) -> list[int]:
    """Word positions of unblocked injury events (verb or participle positions); [] if none."""
    ws = words(text)
    joined = " ".join(ws)
    verbs = INJURY_VERBS | CONTACT_VERBS if any(h in joined for h in HAZARDS) else INJURY_VERBS
    found = []
    for i, w in enumerate(ws):
        if w in verbs:
            j, skipped = i + 1, 0
            while j < len(ws) and skipped < 3 and _skippable(ws[j]):
                j, skipped = j + 1, skipped + 1
            if j < len(ws) and ws[j] in BODY_PARTS and not _negated(ws, i):
                found.append(i)
        if w in BODY_PARTS and i + 2 < len(ws) and ws[i + 1] in AUXILIARIES:
            k = i + 2 if ws[i + 2] in INJURY_PARTICIPLES else i + 3
            if k < len(ws) and ws[k] in INJURY_PARTICIPLES and not _negated(ws, k):
                found.append(k)
    return sorted(set(found))


def has_frame(text: str) -> bool:
    """True when a phrase puts any injury outside the story's present (past, fiction, objects)."""
    joined = " ".join(words(text))
    return any(frame in joined for frame in FRAMES)


def oracle_label(text: str) -> int:
    """1 if `text` introduces a physical injury by the rules above, else 0."""
    if not isinstance(text, str):
        raise ValueError(f"`text` must be a string; got {type(text).__name__}")
    return int(bool(injury_events(text)) and not has_frame(text))
