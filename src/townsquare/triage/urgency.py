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
from dataclasses import dataclass

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
    """Which urgent topics a text mentions."""

    safety: bool = False
    fraud: bool = False
    legal: bool = False
    outage: bool = False


def detect_signals(text: str) -> Signals:
    return Signals(
        safety=bool(SAFETY.search(text)),
        fraud=bool(FRAUD.search(text)),
        legal=bool(LEGAL.search(text)),
        outage=bool(OUTAGE.search(text)),
    )


def _clamp01(x: float) -> float:
    return 0.0 if x <= 0.0 or math.isnan(x) else min(1.0, x)


def urgency_score(
    negative: float = 0.0,
    complaint: float = 0.0,
    reach: int | None = None,
    signals: Signals = Signals(),  # frozen dataclass: an immutable default
    in_incident: bool = False,
) -> float:
    """Urgency in [0, 1]; see the module docstring for the formula. Pure and monotone in every input.

    ``negative`` and ``complaint`` are probabilities (sentiment negative, intent complaint);
    ``reach`` is the author's audience (followers), ``None`` when unknown.
    """
    negative = _clamp01(negative)
    complaint = _clamp01(complaint)
    u_mood = W_MOOD * negative * (0.4 + 0.6 * complaint)
    u_reach = W_REACH * min(1.0, math.log10(1 + max(0, reach or 0)) / math.log10(1 + REACH_FULL))
    keep = (1 - u_mood) * (1 - u_reach)
    keep *= 1 - W_SAFETY * signals.safety
    keep *= 1 - W_FRAUD * signals.fraud
    keep *= 1 - W_LEGAL * signals.legal
    keep *= 1 - W_OUTAGE * signals.outage
    keep *= 1 - W_INCIDENT * in_incident
    return round(1.0 - keep, 4)
