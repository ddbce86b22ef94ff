"""Personal data in a text, with character offsets.

Used twice: to flag a customer's public post that carries personal data, and by the public-reply
guard, which refuses an agent's public reply that contains any. Structured kinds are validated,
not just pattern-matched, so that order totals and tracking numbers are not mistaken for cards:

- email: an address with a dotted domain;
- phone: ``phonenumbers`` finds and *validates* numbers (international form, or national form in
  the regions in ``PHONE_REGIONS``); a cheap digit count decides whether to run it at all;
- iban: ISO 13616 mod-97 checksum and country length (``python-stdnum``);
- payment_card: Luhn checksum plus a known issuer prefix and length;
- postal_address: German (street + number [+ postcode and town]) and English (number + street
  [+ town, state and ZIP or UK postcode]) street addresses;
- date_of_birth: a date written near words like "born", "geboren", "DOB", "Geburtsdatum";
- company kinds: any ``CustomPattern`` (customer, contract, order numbers).

Overlaps are resolved in favour of the longer span, then the more specific kind.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum import luhn

from .schema import CustomPattern, PersonalDataSpan

PHONE_REGIONS: tuple[str, ...] = ("DE", "US", "GB", "AT", "CH", "FR", "NL")
# Digit runs looked at per text; a real post has a handful (see ``_phones``).
MAX_PHONE_CANDIDATES = 256

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){11,18}(?![\d-])")
_DATE_LIKE = re.compile(r"\d{1,2}[./-]\d{1,2}[./-](?:\d{2}|\d{4})|\d{4}-\d{2}-\d{2}|\d{1,2}[./]\d{1,2}[./]?")
# A numeric date with a four-digit year; nobody writes a phone number like that.
_FULL_DATE = re.compile(r"(?<!\d)\d{1,2}[./]\d{1,2}[./](?:19|20)\d{2}(?!\d)")
_PHONE_CANDIDATE = re.compile(
    r"(?:\+|\(\+?)?\d[\d \t()./\-]{5,22}\d(?: ?(?:x|ext\.?|extension|Durchwahl|DW) ?\d{1,6})?", re.IGNORECASE
)

_DE_SUFFIX = r"(?:straße|strasse|str\.|weg|allee|platz|gasse|ring|damm|ufer|chaussee|steig|pfad|markt|berg|hof)"
# Streets named after people keep their name particles in lower case: "Graf-von-Galen-Straße",
# "Van-der-Velde-Weg", "Helma-van der Dussen-Ring".
_DE_PARTICLE = r"[- ](?:von|van|vom|zu|zum|zur|de|del|der|den|dem)"
_DE_NAME = r"[A-ZÄÖÜ][a-zäöüß]+"
# Every repetition is bounded ({0,5} name parts, {0,2} particles): with `*`, a hostile post of
# 16,000 "-Abc" took 18 s, every word start scanning the whole chain again.
_DE_STREET = (
    r"(?:"
    + _DE_NAME
    + r"(?:(?:-(?:von|van|vom|zu|de|der|den)){0,2}-"
    + _DE_NAME
    + r"){0,5}"
    + _DE_SUFFIX
    + r"|"
    + _DE_NAME
    + r"(?:(?:"
    + _DE_PARTICLE
    + r"){0,2}-"
    + _DE_NAME
    + r"|(?:"
    + _DE_PARTICLE
    + r"){1,2} "
    + _DE_NAME
    + r"){0,5}(?:"
    + _DE_PARTICLE
    + r"){0,2}"
    + r"-(?:Straße|Strasse|Str\.|Weg|Allee|Platz|Gasse|Ring|Damm|Ufer|Chaussee|Steig|Pfad|Markt)"
    r"|[A-ZÄÖÜ][a-zäöüß]+e[rns]? (?:Straße|Strasse|Str\.|Weg|Allee|Platz|Gasse|Ring|Damm)"
    r"|(?:Am|An der|Im|In der|Auf der|Zum|Zur|Unter den) [A-ZÄÖÜ][a-zäöüß]+)"
)
# House numbers as Germans write them: 12, 12a, 12 a, 12-14, 5/3; never a time like "16:56".
_DE_NUMBER = r" \d{1,4}(?: ?[a-zA-Z]\b)?(?:[-/]\d{1,4}[a-zA-Z]?)?(?![:\d])"
_DE_ADDRESS = re.compile(
    r"\b"
    + _DE_STREET
    + _DE_NUMBER
    + r"(?:(?:,? ?|\n)\d{5} [A-ZÄÖÜ][\wäöüß]+(?:(?: |-|/)(?:[A-ZÄÖÜ(][\wäöüß.)]+|an der|am|im|in der|ob der)){0,4})?"
)
# The USPS street suffixes (Publication 28) and their common abbreviations.
_EN_STREET_TYPES = (
    r"(?:Alley|Avenue|Branch|Bridge|Brooks?|Burgs?|Bypass|Camp|Canyon|Cape|Causeway|Centers?|Circles?"
    r"|Cliffs?|Club|Common|Corners?|Course|Courts?|Coves?|Creek|Crescent|Crest|Crossing|Crossroad|Curve|Dale"
    r"|Dam|Divide|Drives?|Estates?|Expressway|Extensions?|Falls?|Ferry|Fields?|Flats?|Fords?|Forest|Forges?"
    r"|Forks?|Fort|Freeway|Gardens?|Gateway|Glens?|Greens?|Groves?|Harbors?|Haven|Heights|Highway|Hills?"
    r"|Hollow|Inlet|Islands?|Isle|Junctions?|Keys?|Knolls?|Lakes?|Land|Landing|Lane|Lights?|Loaf|Locks?"
    r"|Lodge|Loop|Mall|Manors?|Meadows?|Mews|Mills?|Mission|Motorway|Mount|Mountains?|Neck|Orchard|Oval"
    r"|Overpass|Parks?|Parkways?|Pass|Passage|Path|Pike|Pines?|Place|Plains?|Plaza|Points?|Ports?|Prairie"
    r"|Radial|Ramp|Ranch|Rapids?|Rest|Ridges?|River|Roads?|Route|Row|Rue|Run|Shoals?|Shores?|Skyway"
    r"|Springs?|Spurs?|Squares?|Station|Stravenue|Stream|Streets?|Summit|Terrace|Throughway|Trace|Track"
    r"|Trafficway|Trail|Tunnel|Turnpike|Underpass|Unions?|Valleys?|Via|Viaduct|Views?|Villages?|Ville"
    r"|Vista|Walks?|Wall|Ways?|Wells?|Close|Grove|Mews"
    r"|St|Ave|Rd|Ln|Dr|Blvd|Ct|Pl|Sq|Pkwy|Cir|Hwy|Trl|Ter|Cres)"
)
_UK_POSTCODE = r"(?:[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})"
_EN_ADDRESS = re.compile(
    r"\b\d{1,6}[A-Za-z]? (?:[NSEW]\.? )?(?:[A-Z][a-z]+ ){1,3}" + _EN_STREET_TYPES + r"\b\.?"
    r"(?:,? (?:Apt\.?|Suite|Ste\.?|Unit|#) ?\d+[A-Za-z]?)?"
    r"(?:,? [A-Z][a-z]+(?: [A-Z][a-z]+)*,? (?:[A-Z]{2},? \d{5}(?:-\d{4})?|" + _UK_POSTCODE + r"))?"
)

_DATE = (
    r"(?:\d{1,2}[./-]\d{1,2}[./-](?:19|20)\d{2}|(?:19|20)\d{2}-\d{2}-\d{2}"
    r"|\d{1,2}\.? (?:Jan(?:uar)?|Feb(?:ruar)?|März|Mär|Apr(?:il)?|Mai|Jun[i]?|Jul[i]?|Aug(?:ust)?"
    r"|Sep(?:tember)?|Okt(?:ober)?|Nov(?:ember)?|Dez(?:ember)?|January|February|March|May|June|July"
    r"|October|December|Mar|Oct|Dec)\.? (?:19|20)\d{2}"
    r"|(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.? \d{1,2}(?:st|nd|rd|th)?,? (?:19|20)\d{2})"
)
_DOB = re.compile(
    r"(?:\b(?:born|DOB|D\.O\.B\.?|date of birth|birth ?date|birthday|geboren|geb\.|Geburtsdatum|Geburtstag"
    r"|né|née|date de naissance|nacido|nacida|fecha de nacimiento|nato|nata|data di nascita)(?!\w)"
    r"[^\d\n]{0,25}?)(" + _DATE + r")",
    re.IGNORECASE,
)

# Issuer prefixes and lengths of the card networks we recognise; a Luhn-valid number outside
# these (e.g. a 16-digit tracking number that happens to pass Luhn, 1 in 10) is not a card.
_CARD_RULES: tuple[tuple[re.Pattern[str], tuple[int, ...]], ...] = (
    (re.compile(r"4"), (13, 16, 19)),  # Visa
    (re.compile(r"5[1-5]|2(?:2[2-9][1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)"), (16,)),  # Mastercard
    (re.compile(r"3[47]"), (15,)),  # American Express
    (re.compile(r"6(?:011|5|4[4-9]|22)"), (16, 19)),  # Discover
    (re.compile(r"35"), (16, 19)),  # JCB (3528-3589 assigned; 35 keeps test generators' numbers)
    (re.compile(r"3(?:0[0-5]|[689])"), (14, 16)),  # Diners
    (re.compile(r"5[06-9]|6\d|0604"), (12, 13, 14, 15, 16, 17, 18, 19)),  # Maestro
)

# Longer spans win; on equal length the more specific kind wins.
_PRIORITY = {"iban": 0, "payment_card": 1, "email": 2, "date_of_birth": 3, "postal_address": 4, "phone": 5}


def _is_card(digits: str) -> bool:
    if not 12 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    if not any(prefix.match(digits) and len(digits) in lengths for prefix, lengths in _CARD_RULES):
        return False
    return bool(luhn.is_valid(digits))


def _emails(text: str) -> Iterable[PersonalDataSpan]:
    if "@" not in text:
        return
    for m in _EMAIL.finditer(text):
        yield PersonalDataSpan(kind="email", start=m.start(), end=m.end())


def _ibans(text: str) -> Iterable[PersonalDataSpan]:
    for m in _IBAN.finditer(text):
        value = m.group(0)
        # The pattern may run into a following word in capitals; shrink until the checksum holds.
        for end in range(len(value), 14, -1):
            candidate = value[:end].rstrip()
            if stdnum_iban.is_valid(candidate):
                yield PersonalDataSpan(kind="iban", start=m.start(), end=m.start() + len(candidate))
                break


def _cards(text: str) -> Iterable[PersonalDataSpan]:
    for m in _CARD.finditer(text):
        if _is_card(re.sub(r"[ -]", "", m.group(0))):
            yield PersonalDataSpan(kind="payment_card", start=m.start(), end=m.end())


def _phones(text: str) -> Iterable[PersonalDataSpan]:
    # libphonenumber's matcher is thorough but slow on a whole post, so it only looks at short
    # windows around digit runs that could be a phone number (7+ characters of digits and
    # separators), and tries the next region only while nothing was found. At most
    # MAX_PHONE_CANDIDATES windows per text: each costs up to 0.8 ms (seven regions), and a
    # hostile 64 kB post of "1 1 1 ..." held 2,700 of them (2.2 s of a pipeline worker).
    for index, cand in enumerate(_PHONE_CANDIDATE.finditer(text)):
        if index >= MAX_PHONE_CANDIDATES:
            break
        if _DATE_LIKE.fullmatch(cand.group(0).strip()):
            continue
        lo = max(0, cand.start() - 4)
        window = text[lo : cand.end() + 1]
        for region in PHONE_REGIONS:
            found = [
                PersonalDataSpan(kind="phone", start=lo + m.start, end=lo + m.end)
                for m in phonenumbers.PhoneNumberMatcher(window, region, leniency=phonenumbers.Leniency.VALID)
            ]
            # "Geboren am 02.04.2002. 8 Tipps": a date with the next number is valid as a phone.
            found = [f for f in found if not _FULL_DATE.search(text[f.start : f.end])]
            if found:
                yield from found
                break


def _addresses(text: str) -> Iterable[PersonalDataSpan]:
    for pattern in (_DE_ADDRESS, _EN_ADDRESS):
        for m in pattern.finditer(text):
            yield PersonalDataSpan(kind="postal_address", start=m.start(), end=m.end())


def _dates_of_birth(text: str) -> Iterable[PersonalDataSpan]:
    for m in _DOB.finditer(text):
        yield PersonalDataSpan(kind="date_of_birth", start=m.start(1), end=m.end(1))


@lru_cache(maxsize=256)
def _compile(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def _custom(text: str, patterns: Sequence[CustomPattern]) -> Iterable[PersonalDataSpan]:
    for pattern in patterns:
        for m in _compile(pattern.regex).finditer(text):
            if m.end() > m.start():
                yield PersonalDataSpan(kind=pattern.kind, start=m.start(), end=m.end())


def _resolve(spans: list[PersonalDataSpan]) -> list[PersonalDataSpan]:
    """Keep non-overlapping spans, preferring longer ones, then structured kinds, in text order."""
    ranked = sorted(spans, key=lambda s: (-(s.end - s.start), _PRIORITY.get(s.kind, -1), s.start))
    kept: list[PersonalDataSpan] = []
    for span in ranked:
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: (s.start, s.end))


def find_personal_data(text: str, patterns: Sequence[CustomPattern] = ()) -> list[PersonalDataSpan]:
    """All personal data in ``text``, non-overlapping, ordered by position.

    Company patterns come first in the overlap ranking: if a company says ``KD-\\d{8}`` is a customer
    number, a match is reported as ``customer_number`` even where it would also look like a phone.
    """
    found: list[PersonalDataSpan] = []
    found.extend(_custom(text, patterns))
    found.extend(_emails(text))
    found.extend(_ibans(text))
    found.extend(_cards(text))
    found.extend(_dates_of_birth(text))
    found.extend(_addresses(text))
    found.extend(_phones(text))
    return _resolve(found)
