"""A personal-data test set: real posts with realistic inserted values, and its scoring.

Values come from Faker (de_DE and en_US; a dev dependency, imported only here) and are kept only
when they are what they claim to be: phone numbers must be valid for their region in
libphonenumber (Faker also invents numbers no network would route, e.g. US 555 numbers), cards
pass Luhn, IBANs pass mod-97. Each value is written the way people write it in a post, inside one
of several phrasings, appended to or inserted into a real post from our intent set.

A detection counts as a hit when it has the inserted kind and covers at least 80 % of the
inserted value's characters (libphonenumber, for instance, leaves out a leading "(" of a number).
Any other detection is a false positive of its kind, so precision also reflects detections in
the untouched part of the real posts.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .schema import CustomPattern, PersonalDataSpan

KINDS = ("email", "phone", "iban", "payment_card", "postal_address", "date_of_birth", "customer_number")
CUSTOMER_NUMBER = CustomPattern(kind="customer_number", regex=r"\bKD-\d{8}\b")

TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "email": ("my email is {v}", "mail me at {v} please", "contact: {v}", "I used {v} to sign up"),
        "phone": ("call me on {v}", "my number is {v}", "you can reach me at {v} after 5pm", "tel {v}"),
        "iban": ("my IBAN is {v}", "refund to {v} please", "account {v}"),
        "payment_card": ("charged twice on card {v}", "my card number is {v}", "card {v} was declined"),
        "postal_address": ("I live at {v}", "deliver to {v} please", "ship it to {v}", "address: {v}"),
        "date_of_birth": ("born {v}", "my date of birth is {v}", "DOB: {v}", "my birthday is {v}"),
        "customer_number": ("customer number {v}", "my account is {v}", "ref {v}"),
    },
    "de": {
        "email": ("meine Mail ist {v}", "schreibt mir an {v}", "E-Mail: {v}", "angemeldet mit {v}"),
        "phone": ("ruft mich an unter {v}", "meine Nummer ist {v}", "Tel. {v}", "erreichbar unter {v} ab 17 Uhr"),
        "iban": ("meine IBAN ist {v}", "bitte auf {v} erstatten", "Konto {v}"),
        "payment_card": ("Karte {v} doppelt belastet", "meine Kreditkarte {v}", "Kartennummer {v} abgelehnt"),
        "postal_address": ("ich wohne in der {v}", "Lieferadresse: {v}", "bitte an {v} schicken", "Adresse {v}"),
        "date_of_birth": ("geboren am {v}", "Geburtsdatum {v}", "geb. {v}", "mein Geburtstag ist der {v}"),
        "customer_number": ("Kundennummer {v}", "meine Kundennr. {v}", "Vorgang {v}"),
    },
}
_MONTHS = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "de": (
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ),
}


# Real personal data that the real posts of our intent set already carry (checked by hand): a
# detection of one of these is right, but it is not an inserted value, so it is not scored.
KNOWN_IN_POSTS = frozenset({"domngash@yahoo.com", "214-583-2188", "8587981023", "0711/2 555 555"})


@dataclass
class PiiExample:
    text: str
    spans: list[PersonalDataSpan] = field(default_factory=list)
    language: str = "en"


def _grouped(value: str, rng: random.Random) -> str:
    return " ".join(value[i : i + 4] for i in range(0, len(value), 4)) if rng.random() < 0.5 else value


def _value(kind: str, lang: str, fake: Any, rng: random.Random) -> str:
    import phonenumbers

    if kind == "email":
        return str(fake.email() if rng.random() < 0.5 else fake.free_email())
    if kind == "phone":
        region = "DE" if lang == "de" else "US"
        for _ in range(200):
            value = str(fake.phone_number())
            try:
                if phonenumbers.is_valid_number(phonenumbers.parse(value, region)):
                    return value
            except phonenumbers.NumberParseException:
                continue
        raise RuntimeError("Faker gave no valid phone number in 200 tries")
    if kind == "iban":
        return _grouped(str(fake.iban()), rng)
    if kind == "payment_card":
        card_type = rng.choice(["visa16", "mastercard", "amex", "discover", "jcb16", "maestro", "visa19"])
        number = str(fake.credit_card_number(card_type=card_type))
        return _grouped(number, rng) if len(number) == 16 else number
    if kind == "postal_address":
        if lang == "de":
            return f"{fake.street_address()}, {fake.postcode()} {fake.city()}"
        if rng.random() < 0.5:
            return str(fake.street_address())
        return f"{fake.street_address()}, {fake.city()}, {fake.state_abbr()} {fake.zipcode()}"
    if kind == "date_of_birth":
        d = fake.date_of_birth(minimum_age=16, maximum_age=90)
        style = rng.randrange(4)
        if style == 0:
            return str(d.strftime("%d.%m.%Y") if lang == "de" else d.strftime("%m/%d/%Y"))
        if style == 1:
            return str(d.isoformat())
        if lang == "de":
            return f"{d.day}. {_MONTHS['de'][d.month - 1]} {d.year}"
        return f"{_MONTHS['en'][d.month - 1]} {d.day}, {d.year}"
    if kind == "customer_number":
        return f"KD-{rng.randrange(10**8):08d}"
    raise ValueError(kind)


def generate(posts: Sequence[tuple[str, str]], per_kind: int = 200, seed: int = 7) -> list[PiiExample]:
    """``per_kind`` examples of each kind (half German, half English) plus as many untouched posts."""
    from faker import Faker

    rng = random.Random(seed)
    fakers = {"de": Faker("de_DE"), "en": Faker("en_US")}
    for f in fakers.values():
        f.seed_instance(seed)
    by_lang = {lang: [t for t, lg in posts if lg == lang] for lang in ("de", "en")}
    examples: list[PiiExample] = []
    for kind in KINDS:
        for i in range(per_kind):
            lang = "de" if i % 2 else "en"
            post = " ".join(rng.choice(by_lang[lang]).split())
            value = _value(kind, lang, fakers[lang], rng)
            phrase = rng.choice(TEMPLATES[lang][kind])
            before, after = phrase.split("{v}")
            if rng.random() < 0.5:
                prefix = post + " " + before
                text = prefix + value + after
            else:
                prefix = before[0].upper() + before[1:] if before else ""
                text = prefix + value + after + ". " + post
            start = len(prefix)
            examples.append(
                PiiExample(
                    text=text, spans=[PersonalDataSpan(kind=kind, start=start, end=start + len(value))], language=lang
                )
            )
    for i in range(per_kind):
        lang = "de" if i % 2 else "en"
        examples.append(PiiExample(text=rng.choice(by_lang[lang]), language=lang))
    return examples


@dataclass
class KindScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def _covers(found: PersonalDataSpan, truth: PersonalDataSpan) -> bool:
    overlap = min(found.end, truth.end) - max(found.start, truth.start)
    return found.kind == truth.kind and overlap >= 0.8 * (truth.end - truth.start)


def score(
    examples: Sequence[PiiExample], finder: Callable[[str], list[PersonalDataSpan]]
) -> tuple[dict[str, KindScore], list[tuple[str, str, str]]]:
    """Per-kind counts, and the mistakes as (what, kind, text) for inspection."""
    scores = {kind: KindScore() for kind in KINDS}
    mistakes: list[tuple[str, str, str]] = []
    for ex in examples:
        found = finder(ex.text)
        for truth in ex.spans:
            if any(_covers(f, truth) for f in found):
                scores[truth.kind].tp += 1
            else:
                scores[truth.kind].fn += 1
                mistakes.append(("missed", truth.kind, ex.text))
        for f in found:
            if ex.text[f.start : f.end] in KNOWN_IN_POSTS:
                continue
            if not any(_covers(f, t) for t in ex.spans):
                scores.setdefault(f.kind, KindScore()).fp += 1
                mistakes.append(("false", f.kind, f"{ex.text[f.start : f.end]!r} in {ex.text}"))
    return scores, mistakes
