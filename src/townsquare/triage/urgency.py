"""Urgency in [0, 1] from what triage knows about a post.

The score is a *noisy-OR* of independent reasons to hurry:

    urgency = 1 - (1 - u_mood) * (1 - u_reach) * (1 - u_safety) * (1 - u_fraud)
                * (1 - u_legal) * (1 - u_outage) * (1 - u_incident)

with
    u_mood     = 0.45 * p(negative) * (0.4 + 0.6 * p(complaint))   an unhappy complaint
    u_reach    = 0.30 * min(1, log10(1 + reach) / 6)               a million followers count fully
    u_safety   = 0.70 if words of danger to people (fire, injury, "Unfall", "Rauch"...)
    u_fraud    = 0.45 if words of fraud, theft, hacked accounts, phishing
    u_legal    = 0.40 if a legal threat (lawyer, court, "Anwalt", "Verbraucherzentrale"...)
    u_outage   = 0.35 if the post reports an outage ("down", "Störung", "no signal"...)
    u_incident = 0.35 if the post belongs to an open incident

Why noisy-OR: each reason alone can make a post urgent, several together make it more urgent,
and the result never leaves [0, 1]. Every term is non-decreasing in its input and every factor
lies in [0, 1], so the score is monotone: more negative, more of a complaint, more reach, or one
more signal can never lower it (tested in tests/triage/test_urgency.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .schema import UrgencyReason, UrgencyReasonName

W_MOOD = 0.45
W_REACH = 0.30
W_SAFETY = 0.70
W_FRAUD = 0.45
W_LEGAL = 0.40
W_OUTAGE = 0.35
W_INCIDENT = 0.35
REACH_FULL = 1_000_000  # followers at which reach counts fully


def _words(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")", re.IGNORECASE)


# Word stems in de, en and the other main languages; matched at a word start so that stems
# ("verletz" -> verletzt, Verletzung) cover inflections.
SAFETY = _words(
    r"fire\b",
    "smoke",
    "burn",
    "explo",
    "injur",
    "hurt",
    "bleed",
    "unsafe",
    "danger",
    "poison",
    "gas leak",
    "electric shock",
    "accident",
    "ambulance",
    "emergency",
    "overheat",
    "caught fire",
    "threat",
    "assault",
    "feuer",
    "brand",
    "rauch",
    "verletz",
    "blut",
    "unfall",
    "gefahr",
    "gefährlich",
    "notfall",
    "notarzt",
    "vergift",
    "stromschlag",
    "überhitz",
    "explod",
    "angegriffen",
    "bedroh",
    "incendie",
    "blessé",
    "danger",
    "accidente",
    "herido",
    "peligro",
    "incendio",
    "ferito",
    "pericolo",
    "incêndio",
    "ferido",
    "perigo",
    "yangın",
    "kaza",
    "tehlike",
    "pożar",
    "wypadek",
    "niebezpiecz",
)
FRAUD = _words(
    "fraud",
    "scam",
    "stolen",
    "theft",
    "hacked",
    "phishing",
    "unauthori[sz]ed",
    "identity theft",
    "charged twice",
    "double charged",
    "not me",
    "impersonat",
    "fake account",
    "betrug",
    "betrüg",
    "gestohlen",
    "diebstahl",
    "gehackt",
    "abzocke",
    "phishing",
    "nicht autorisiert",
    "abgebucht ohne",
    "doppelt abgebucht",
    "fraude",
    "arnaque",
    "volé",
    "estafa",
    "robado",
    "truffa",
    "rubato",
    "golpe",
    "roubado",
    "dolandırıcı",
    "oszust",
    "kradzież",
)
LEGAL = _words(
    "lawyer",
    "attorney",
    "solicitor",
    "lawsuit",
    r"sue\b",
    "suing",
    "legal action",
    "court",
    "small claims",
    "ombudsman",
    "trading standards",
    "regulator",
    "ofcom",
    "fcc",
    r"bbb\b",
    "anwalt",
    "rechtsanwalt",
    "klage",
    "verklag",
    "gericht",
    "rechtliche schritte",
    "verbraucherzentrale",
    "bundesnetzagentur",
    "schlichtungsstelle",
    "abmahnung",
    "avocat",
    "tribunal",
    "abogado",
    "demanda",
    "denuncia",
    "avvocato",
    "denuncia",
    "advogado",
    "processo",
    "procon",
    "avukat",
    "dava",
    "prawnik",
    "pozew",
)
OUTAGE = _words(
    r"down\b",
    "outage",
    "not working",
    "doesn't work",
    "does not work",
    "no signal",
    "no service",
    "no internet",
    "no power",
    "offline",
    "can't connect",
    "cannot connect",
    "can't log ?in",
    "cannot log ?in",
    "error",
    "crash",
    "broken",
    "still down",
    "störung",
    "ausfall",
    "ausgefallen",
    "funktioniert nicht",
    "geht nicht",
    "kein internet",
    "kein netz",
    "kein empfang",
    "kein strom",
    "offline",
    "fehler",
    "absturz",
    "stürzt ab",
    "panne",
    "en panne",
    "ne marche pas",
    "caído",
    "caida",
    "no funciona",
    "sin servicio",
    "non funziona",
    "guasto",
    "fora do ar",
    "não funciona",
    "sem internet",
    "çalışmıyor",
    "kesinti",
    "awaria",
    "nie działa",
)


@dataclass(frozen=True)
class Signals:
    """Which urgent topics a text mentions, and the word that said so for each (``evidence``:
    (signal, word as written) pairs, what an agent is shown as the reason)."""

    safety: bool = False
    fraud: bool = False
    legal: bool = False
    outage: bool = False
    evidence: tuple[tuple[str, str], ...] = ()


SIGNAL_PATTERNS: dict[str, re.Pattern[str]] = {"safety": SAFETY, "fraud": FRAUD, "legal": LEGAL, "outage": OUTAGE}
# A pattern matches a stem at a word's start ("verletz"); the agent is shown the whole word.
_REST_OF_WORD = re.compile(r"\w{0,60}")
EVIDENCE_CHARS = 60


def _word_at(text: str, match: re.Match[str]) -> str:
    rest = _REST_OF_WORD.match(text, match.end())
    return (match.group(0) + (rest.group(0) if rest else ""))[:EVIDENCE_CHARS]


TOPICS: tuple[str, ...] = tuple(SIGNAL_PATTERNS)
# Reasons an agent should see at a glance (the inbox shows the strongest): the topic signals,
# whose evidence is the customer's own word, and membership in an incident. Mood and reach
# make a post more urgent but say nothing about what to do.
ALERT_REASONS: tuple[str, ...] = (*TOPICS, "incident")
WORD_MAX = 64
WORDS_PER_TOPIC_MAX = 500


def company_words_error(words: Mapping[str, Sequence[str]]) -> str | None:
    """Why a company's urgency words cannot be used (unknown topic, empty or overlong word), or
    None. Shared by the setting's validation and the command line."""
    for topic, listed in words.items():
        if topic not in SIGNAL_PATTERNS:
            return f"urgency_words.{topic}: not a topic; the topics are {', '.join(TOPICS)}"
        if len(listed) > WORDS_PER_TOPIC_MAX:
            return f"urgency_words.{topic}: at most {WORDS_PER_TOPIC_MAX} words"
        for word in listed:
            if not word.strip() or len(word) > WORD_MAX:
                return f"urgency_words.{topic}: words have 1 to {WORD_MAX} characters, got {word!r}"
    return None


@dataclass(frozen=True)
class CompanyWords:
    """A company's own urgency words per topic, next to the built-in lists: its products' outage
    words ("Glasfaser", "5G"), its fraud words ("chargeback"). Plain text, not regular
    expressions (an admin's typo cannot hang triage), matched like the built-in stems:
    case-insensitively at a word start, so "glasfaser" also finds "Glasfaserausfall"."""

    patterns: tuple[tuple[str, re.Pattern[str]], ...] = ()

    @classmethod
    def of(cls, words: Mapping[str, Sequence[str]]) -> CompanyWords:
        error = company_words_error(words)
        if error:
            raise ValueError(error)
        return cls(
            tuple(
                (topic, _words(*(re.escape(w.strip()) for w in sorted(set(listed)))))
                for topic, listed in sorted(words.items())
                if listed
            )
        )


NO_COMPANY_WORDS = CompanyWords()


def detect_signals(text: str, company: CompanyWords = NO_COMPANY_WORDS) -> Signals:
    found = {name: pattern.search(text) for name, pattern in SIGNAL_PATTERNS.items()}
    for topic, pattern in company.patterns:
        found[topic] = found[topic] or pattern.search(text)
    return Signals(
        safety=found["safety"] is not None,
        fraud=found["fraud"] is not None,
        legal=found["legal"] is not None,
        outage=found["outage"] is not None,
        evidence=tuple((name, _word_at(text, match)) for name, match in found.items() if match is not None),
    )


def _clamp01(x: float) -> float:
    return 0.0 if x <= 0.0 or math.isnan(x) else min(1.0, x)


def urgency_terms(
    negative: float = 0.0,
    complaint: float = 0.0,
    reach: int | None = None,
    signals: Signals = Signals(),  # frozen dataclass: an immutable default
    in_incident: bool = False,
) -> dict[UrgencyReasonName, float]:
    """Each reason's own urgency (the ``u_*`` of the module docstring), by reason name."""
    negative = _clamp01(negative)
    complaint = _clamp01(complaint)
    return {
        "mood": W_MOOD * negative * (0.4 + 0.6 * complaint),
        "reach": W_REACH * min(1.0, math.log10(1 + max(0, reach or 0)) / math.log10(1 + REACH_FULL)),
        "safety": W_SAFETY * signals.safety,
        "fraud": W_FRAUD * signals.fraud,
        "legal": W_LEGAL * signals.legal,
        "outage": W_OUTAGE * signals.outage,
        "incident": W_INCIDENT * in_incident,
    }


def urgency_score(
    negative: float = 0.0,
    complaint: float = 0.0,
    reach: int | None = None,
    signals: Signals = Signals(),
    in_incident: bool = False,
) -> float:
    """Urgency in [0, 1]; see the module docstring for the formula. Pure and monotone in every input.

    ``negative`` and ``complaint`` are probabilities (sentiment negative, intent complaint);
    ``reach`` is the author's audience (followers), ``None`` when unknown.
    """
    keep = 1.0
    for term in urgency_terms(negative, complaint, reach, signals, in_incident).values():
        keep *= 1 - term
    return round(1.0 - keep, 4)


# Reasons weaker than this are not worth an agent's attention: the mood of a post triage finds
# only mildly negative (below p(negative) 0.37 for a sure complaint), the reach of an account
# with fewer than 100 followers. At 0.05 nearly every post of the demo showed a reason.
REASON_FLOOR = 0.1


def urgency_reasons(
    negative: float = 0.0,
    complaint: float = 0.0,
    reach: int | None = None,
    signals: Signals = Signals(),
    in_incident: bool = False,
) -> list[UrgencyReason]:
    """Why a post is as urgent as it is: each reason with its own urgency and evidence, strongest first, for
    the reasons of at least ``REASON_FLOOR`` (0.1). The evidence is the word that raised a topic signal
    ("Rauch"), the author's reach, or the sentiment and complaint probabilities."""
    evidence: dict[str, str | None] = dict(signals.evidence)
    evidence["reach"] = f"{reach:,} followers" if reach else None
    evidence["mood"] = f"negative {_clamp01(negative):.2f}, complaint {_clamp01(complaint):.2f}"
    evidence["incident"] = "part of an open incident"
    terms = urgency_terms(negative, complaint, reach, signals, in_incident)
    strong = [
        UrgencyReason(reason=name, weight=round(term, 4), evidence=evidence.get(name))
        for name, term in terms.items()
        if term >= REASON_FLOOR
    ]
    return sorted(strong, key=lambda reason: -reason.weight)
