"""Hand-written German and English problem lexicon.

Two jobs, both on raw text (the replay contract carries no labels):

* **cues** say that a message reports a problem at all ("funktioniert nicht", "is down",
  "schon wieder", "still waiting");
* **concepts** say *what* broke, in a language-neutral form (``~connectivity`` for "WLAN",
  "wifi", "kein Netz", "no signal"), so reports of the same outage in German and English share a
  feature and can group into one incident.

The lists are a generic customer-service outage taxonomy written from domain knowledge; they were
not mined from the benchmark data, and no label of that data is used.

Entries match words of *folded* text (lower case, umlauts as ``ae/oe/ue``, ``ß`` as ``ss``; see
:func:`fold`). Matching is by word, not by one big regular expression, because a regex
alternation of a few hundred patterns costs ~150 µs per message in Python, ten times the budget.
Entry syntax: ``word`` exact word, ``stem*`` word prefix, ``*stem*`` anywhere inside a word of
nine or more letters (German compounds such as "Signal*stoerung*") and also as a prefix, and
``two words`` an exact phrase of two or three words.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

_FOLD_TABLE: Final = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "\u2019": "'"})
_WORD_RE: Final = re.compile(r"[^\W_]+(?:['/-][^\W_]+)*")

CUE: Final = "!cue"
"""Tag of entries that only say "this is a problem report"."""


def fold(text: str) -> str:
    """Lower-case, spell umlauts as two letters and strip other accents (café -> cafe)."""
    lowered = text.lower().translate(_FOLD_TABLE)
    if lowered.isascii():
        return lowered
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# Concept feature -> (human label, entries).
CONCEPTS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "~connectivity": (
        "Connectivity",
        (
            "*wlan*",
            "wifi",
            "wi-fi",
            "*internet*",
            "broadband",
            "network*",
            "netz",
            "netzabdeckung",
            "*mobilfunk*",
            "empfang*",
            "signal",
            "no signal",
            "lte",
            "3g",
            "4g",
            "5g",
            "hotspot*",
            "offline",
            "no service",
            "disconnect*",
            "keine verbindung",
            "kein netz",
            "funkloch*",
            "connection drops",
            "connection lost",
            "keinen empfang",
            "router*",
        ),
    ),
    "~outage": (
        "Outage",
        (
            "*stoerung*",
            "gestoert",
            "outage*",
            "is down",
            "are down",
            "went down",
            "down again",
            "down for",
            "down since",
            "*stromausfall*",
            "power cut",
            "power outage",
            "blackout",
            "no power",
            "*systemausfall*",
            "*serverausfall*",
            "technische probleme",
            "technischer defekt",
            "technical issue*",
            "technical problem*",
            "technical fault",
            "not working",
            "doesn't work",
            "funktioniert nicht",
            "geht nicht",
            "kaputt*",
            "defekt*",
            "broken",
        ),
    ),
    "~delay": (
        "Delays and cancellations",
        (
            "*verspaet*",
            "delay*",
            "running late",
            "cancelled",
            "canceled",
            "cancellation*",
            "*ausfall*",
            "*ausfaell*",
            "faellt aus",
            "fallen aus",
            "ausgefallen",
            "gestrandet",
            "stranded",
            "stuck",
            "anschluss verpasst",
            "missed connection",
            "missed my connection",
            "*sperrung*",
            "gesperrt",
            "*umleitung*",
            "*ersatzverkehr*",
            "streik*",
            "strike",
            "*bahnuebergang*",
            "weichen*",
            "*weichenstoerung*",
            "stellwerk*",
            "*signalstoerung*",
            "zugausfall*",
            "verzoegerung*",
            "late",
        ),
    ),
    "~app": (
        "App and website",
        (
            "app",
            "apps",
            "website*",
            "webseite*",
            "homepage",
            "portal",
            "login",
            "log in",
            "einloggen",
            "anmelden",
            "anmeldung",
            "password*",
            "passwort*",
            "account*",
            "konto",
            "error*",
            "*fehlermeldung*",
            "crash*",
            "stuerzt ab",
            "abgestuerzt",
            "server*",
            "update*",
            "bug",
            "bugs",
            "404",
            "500",
            "502",
            "503",
        ),
    ),
    "~payment": (
        "Payment and billing",
        (
            "payment*",
            "charged",
            "charge me",
            "refund*",
            "billing",
            "bill",
            "invoice*",
            "rechnung*",
            "zahlung*",
            "bezahl*",
            "*erstattung*",
            "abbuchung*",
            "credit card",
            "kreditkarte*",
            "lastschrift*",
            "double charged",
            "overcharged",
        ),
    ),
    "~ticket": (
        "Tickets and booking",
        (
            "ticket*",
            "*fahrkarte*",
            "*fahrschein*",
            "booking*",
            "buchung*",
            "gebucht",
            "reservation*",
            "*reservierung*",
            "sitzplatz*",
            "seat",
            "seats",
            "boarding",
            "*automat*",
            "bahncard*",
        ),
    ),
    "~delivery": (
        "Orders and delivery",
        (
            "deliver*",
            "order",
            "orders",
            "ordered",
            "parcel*",
            "package",
            "shipping",
            "shipment*",
            "tracking",
            "*lieferung*",
            "geliefert",
            "bestellung*",
            "bestellt",
            "paket*",
            "versand*",
            "sendung*",
        ),
    ),
    "~climate": (
        "Heat and air conditioning",
        (
            "*klimaanlage*",
            "klima",
            "hitze*",
            "heat",
            "aircon",
            "air con",
            "air conditioning",
            "a/c",
            "heizung*",
            "heating",
            "zu heiss",
            "zu warm",
            "zu kalt",
            "too hot",
            "too cold",
            "grad",
            "sauna",
            "freezing",
        ),
    ),
    "~safety": (
        "Safety",
        (
            "polizei*",
            "police",
            "unfall*",
            "accident*",
            "verletzt*",
            "injur*",
            "notarzt*",
            "notfall*",
            "emergency",
            "feuer*",
            "fire",
            "brand",
            "evakuiert",
            "evacuat*",
            "angriff*",
            "attack*",
            "bedroht",
            "gewalt*",
            "sicherheit*",
            "safety",
            "unsafe",
            "*personenschaden*",
            "erfasst",
            "*messerangriff*",
        ),
    ),
    "~service": (
        "Customer service",
        (
            "hotline*",
            "*kundenservice*",
            "*kundendienst*",
            "customer service",
            "on hold",
            "*warteschleife*",
            "no one answers",
            "nobody answers",
            "keine antwort",
            "no response",
            "no reply",
            "rude",
            "unfreundlich*",
            "call centre",
            "call center",
        ),
    ),
}

# Entries that mark a message as a problem report without saying what broke.
CUES: Final[tuple[str, ...]] = (
    # English
    "won't",
    "wont",
    "can't",
    "cant",
    "cannot",
    "unable to",
    "fail*",
    "issue*",
    "problem*",
    "down",
    "still waiting",
    "waiting for",
    "no one",
    "nobody",
    "again",
    "worst",
    "terrible",
    "awful",
    "horrible",
    "ridiculous",
    "unacceptable",
    "disappointed",
    "frustrat*",
    "annoy*",
    "angry",
    "suck",
    "sucks",
    "help",
    "wtf",
    "anyone else",
    "just me",
    "what's going on",
    "why",
    "complain*",
    "never",
    "hour",
    "hours",
    "missing",
    "lost",
    "wrong",
    "poor",
    "bad",
    "fix",
    "still",
    "doesn't",
    "don't",
    "didn't",
    "isn't",
    "not",
    # German
    "gehen nicht",
    "*problem*",
    "fehler*",
    "schon wieder",
    "mal wieder",
    "wieder mal",
    "seit stunden",
    "stunde",
    "stunden",
    "minuten",
    "kein",
    "keine",
    "keinen",
    "keiner",
    "nix",
    "nervt",
    "nervig",
    "nerven",
    "aerger*",
    "frech*",
    "skandal*",
    "katastroph*",
    "chaos",
    "unmoeglich*",
    "zumutung",
    "schlecht*",
    "mies*",
    "scheiss*",
    "mist",
    "sauer",
    "warum",
    "wieso",
    "weshalb",
    "hilfe",
    "beschwerde*",
    "warten",
    "warte",
    "festgesessen",
    "festsitzen",
    "fail",
    "ueberfuellt",
    "dreckig",
    "unpuenktlich*",
)


class _Matcher:
    """Word-level matcher for the entry syntax above; one pass over a message's words."""

    def __init__(self, entries: dict[str, tuple[str, ...]]) -> None:
        self.exact: dict[str, set[str]] = {}
        self.prefix: dict[str, set[str]] = {}
        self.infix: dict[str, set[str]] = {}
        self.phrase: dict[str, set[str]] = {}
        for tag, words in entries.items():
            for entry in words:
                self._add(tag, entry)
        self.prefix_lengths = sorted({len(key) for key in self.prefix})

    def _add(self, tag: str, entry: str) -> None:
        if " " in entry:
            self.phrase.setdefault(entry, set()).add(tag)
        elif entry.startswith("*") and entry.endswith("*"):
            stem = entry.strip("*")
            self.infix.setdefault(stem, set()).add(tag)
            self.prefix.setdefault(stem, set()).add(tag)
        elif entry.endswith("*"):
            self.prefix.setdefault(entry[:-1], set()).add(tag)
        else:
            self.exact.setdefault(entry, set()).add(tag)

    def tags(self, words: list[str]) -> set[str]:
        found: set[str] = set()
        exact, prefix, infix, phrase = self.exact, self.prefix, self.infix, self.phrase
        previous = ""
        before = ""
        for word in words:
            hit = exact.get(word)
            if hit:
                found |= hit
            for length in self.prefix_lengths:
                if length > len(word):
                    break
                hit = prefix.get(word[:length])
                if hit:
                    found |= hit
            if len(word) >= 9:
                for stem, stem_tags in infix.items():
                    if stem in word:
                        found |= stem_tags
            if previous:
                hit = phrase.get(f"{previous} {word}")
                if hit:
                    found |= hit
                if before:
                    hit = phrase.get(f"{before} {previous} {word}")
                    if hit:
                        found |= hit
            before, previous = previous, word
        return found


_MATCHER: Final = _Matcher({**{name: entries for name, (_label, entries) in CONCEPTS.items()}, CUE: CUES})


def words_of(folded: str) -> list[str]:
    """Words of folded text, keeping inner apostrophes, slashes and hyphens ("can't", "a/c")."""
    return _WORD_RE.findall(folded)


def scan(words: list[str]) -> tuple[frozenset[str], bool]:
    """Concepts (``~name``) found in a message's folded words, and whether a problem cue is there."""
    tags = _MATCHER.tags(words)
    has_cue = CUE in tags
    if has_cue:
        tags.discard(CUE)
    return frozenset(tags), has_cue


def concept_label(feature: str) -> str:
    """Human label for a concept feature, e.g. ``~delay`` -> "Delays and cancellations"."""
    entry = CONCEPTS.get(feature)
    return entry[0] if entry is not None else feature
