"""A labelled example set the project writes itself, NOT the story corpus: short spam (label 1)
and ham (label 0) messages from templates × slot words, to show the user-data path of the suite
(`RobustnessConfig(data=...)`) on a file shaped like a user's.

Every row is drawn by a seeded `random.Random`: a template of the row's label, uniformly, then a
word for each of its slots, uniformly; a text already drawn is drawn again. Exactly
`round(n · spam_share)` rows are spam. Two of the eight spam templates and three of the ten ham
templates are "hard": spam without
the obvious words (a fake security notice, an advance-fee letter) and ham that uses them ("free",
"won", "click", "bank"), so a bag of spam words does not separate the classes.

The file (`write_example_data`) is a UTF-8 CSV with columns `text`, `label`, `kind` (spam,
hard_spam, ham, hard_ham) and `template` (S1 … / H1 …). There is no oracle: the label is the
template's, and nothing checks that an edited message is still spam.
"""

from __future__ import annotations

import csv
import io
import os
import random
import string
from dataclasses import dataclass
from pathlib import Path

from workbench.core.atomic import atomic_file
from workbench.core.cache import default_cache_dir
from workbench.core.paths import check_output_dir
from workbench.core.validation import check_int, check_range
from workbench.robustness.data import MIN_PER_LABEL  # the 50/20/30 split needs one of each label per split

SLOTS: dict[str, tuple[str, ...]] = {
    "prize": ("new iPhone", "$1,000 gift card", "luxury cruise", "brand new car", "PlayStation 5", "holiday voucher",
              "smart TV", "shopping spree"),
    "link": ("bit.ly/claim-now", "www.prize-centre.net", "secure-login.info", "tinyurl.com/win4u", "rewards-hub.co",
             "verify-account.org"),
    "deadline": ("midnight", "Friday", "the end of the day", "tomorrow", "Sunday", "noon"),
    "account": ("PayPal", "Netflix", "Amazon", "Apple ID", "bank", "email", "Microsoft"),
    "hours": ("12", "24", "48", "6"),
    "product": ("weight-loss pills", "designer watches", "cheap meds", "replica handbags", "a miracle cream",
                "crypto signals"),
    "price": ("$9.99", "$19", "$4.95", "$29.99", "$1"),
    "discount": ("70%", "80%", "90%", "50%"),
    "amount": ("$500", "$2,000", "$5,000", "$750", "$10,000", "$1,200"),
    "keyword": ("YES", "WIN", "CLAIM", "CASH", "GO"),
    "number": ("80082", "61000", "7726", "88444"),
    "fee": ("$1.99", "$2.50", "$3.00", "£1.45"),
    "name": ("Anna", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jonas"),
    "meal": ("lunch", "dinner", "breakfast", "coffee", "brunch"),
    "time": ("noon", "6pm", "7:30", "8am", "half past one", "five"),
    "item": ("salad", "dessert", "the charger", "my umbrella", "some bread", "the board game", "a jacket"),
    "document": ("slides", "budget sheet", "draft report", "minutes", "contract", "invoice"),
    "day": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "event": ("meeting", "rehearsal", "book club", "football practice", "dentist visit", "team call", "party"),
    "gift": ("flowers", "book", "birthday card", "cake", "puzzle", "scarf"),
    "minutes": ("5", "10", "15", "20"),
}

# (id, label, kind, template); "hard" templates cross the obvious cues of the other class
TEMPLATES: tuple[tuple[str, int, str, str], ...] = (
    ("S1", 1, "spam", "Congratulations! You have won a {prize}. Click {link} to claim it before {deadline}."),
    ("S2", 1, "spam", "URGENT: your {account} account has been suspended. Verify your details at {link} within "
                      "{hours} hours."),
    ("S3", 1, "spam", "Get {product} for only {price} today, {discount} off! Order now at {link}."),
    ("S4", 1, "spam", "You have been selected for a {amount} cash reward. Reply {keyword} to receive it."),
    ("S5", 1, "spam", "Earn {amount} a week working from home, no experience needed. Text {keyword} to {number}."),
    ("S6", 1, "spam", "Your parcel could not be delivered. Pay the {fee} redelivery fee at {link} by {deadline}."),
    ("S7", 1, "hard_spam", "Hi, this is {name} from the {account} security team. Please confirm your password at "
                           "{link} before {deadline}."),
    ("S8", 1, "hard_spam", "Dear friend, my name is {name} and I have a business proposal worth {amount}. Please "
                           "send me your bank details by {deadline}."),
    ("H1", 0, "ham", "Are we still on for {meal} at {time}? I can bring {item}."),
    ("H2", 0, "ham", "Can you send me the {document} before the {event} on {day}?"),
    ("H3", 0, "ham", "{name} says the {event} moved to {day} at {time}; see you there."),
    ("H4", 0, "ham", "I left {item} at your place, can I pick it up on {day}?"),
    ("H5", 0, "ham", "Thanks for the {gift}, {name} loved it! Let's have {meal} on {day}."),
    ("H6", 0, "ham", "Running {minutes} minutes late, start the {event} without me."),
    ("H7", 0, "hard_ham", "Are you free on {day}? {name} is giving away {item} for free after the {event}."),
    ("H8", 0, "hard_ham", "{name} won the {prize} in the raffle at the {event}, we are so proud!"),
    ("H9", 0, "hard_ham", "The bank called about the {document}; I will sort it out on {day} after {meal}."),
    ("H10", 0, "hard_ham", "Click the link in the calendar invite to join the {event} at {time} on {day}."),
)
COLUMNS = ("text", "label", "kind", "template")
MAX_ROWS = 2000  # below the distinct texts of either label's templates (about 4,300 spam, 10,000 ham)


@dataclass(frozen=True)
class ExampleRow:
    """One message: its text, label (1 spam, 0 ham), kind and template id."""

    text: str
    label: int
    kind: str
    template: str


def _fill(template: str, rng: random.Random) -> str:
    """`template` with each slot replaced by a uniformly drawn word of `SLOTS` (slots in order)."""
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    return template.format(**{name: rng.choice(SLOTS[name]) for name in names})


def example_rows(n: int = 400, spam_share: float = 0.5, seed: int = 0) -> list[ExampleRow]:
    """`n` distinct messages, exactly `round(n · spam_share)` spam (label 1), the spam first then
    the ham, each label's rows in draw order (the module docstring gives the draws).

    A row's text is unique within the set; the same (n, spam_share, seed) gives the same rows.
    Raises ValueError naming `n` (outside [8, 2000]), `spam_share` (outside (0, 1)) or the pair
    when either label would get fewer than 4 rows (the suite's split needs them)."""
    n = check_int("n", n, low=2 * MIN_PER_LABEL, high=MAX_ROWS)
    share = check_range("spam_share", spam_share, 0.0, 1.0, low_open=True, high_open=True)
    seed = check_int("seed", seed, low=0)
    n_spam = round(n * share)
    if min(n_spam, n - n_spam) < MIN_PER_LABEL:
        raise ValueError(f"`spam_share` {share:g} of `n` {n} leaves {min(n_spam, n - n_spam)} rows of one label; "
                         f"each label needs at least {MIN_PER_LABEL}")
    rng = random.Random(seed)
    rows: list[ExampleRow] = []
    seen: set[str] = set()
    for label, count in ((1, n_spam), (0, n - n_spam)):
        templates = [t for t in TEMPLATES if t[1] == label]
        kept = 0
        while kept < count:  # MAX_ROWS is far below each label's distinct texts: this ends
            tid, _, kind, template = rng.choice(templates)
            text = _fill(template, rng)
            if text not in seen:
                seen.add(text)
                rows.append(ExampleRow(text, label, kind, tid))
                kept += 1
    return rows


def default_example_folder() -> Path:
    """Where `write_example_data` writes by default: `<workbench cache>/robustness/example_data`
    (never the checkout)."""
    return default_cache_dir() / "robustness" / "example_data"


def write_example_data(folder: str | os.PathLike | None = None, n: int = 400, spam_share: float = 0.5,
                       seed: int = 0) -> Path:
    """Write `example_rows(n, spam_share, seed)` as `<folder>/spam_ham_n<n>_seed<seed>.csv`
    (UTF-8, header `text,label,kind,template`, "\\n" line ends) atomically; return its path.

    `folder` None: `default_example_folder()`. The arguments are checked, and the folder is
    created and checked writable, before anything is drawn."""
    target_dir = check_output_dir("folder", default_example_folder() if folder is None else folder)
    rows = example_rows(n, spam_share, seed)
    share = "" if round(spam_share, 6) == 0.5 else f"_spam{spam_share:g}"
    path = target_dir / f"spam_ham_n{n}_seed{seed}{share}.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows((r.text, r.label, r.kind, r.template) for r in rows)
    with atomic_file(path) as tmp:
        tmp.write_bytes(buffer.getvalue().encode("utf-8"))
    return path
