"""Small synthetic message streams for the detector tests (the benchmark uses real posts)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from townsquare.incidents.detector import ReportIn

START = datetime(2024, 5, 6, 0, 0, tzinfo=UTC)
_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "ta", "be", "so", "vi", "da", "po", "fe", "gu", "ri")
_PROBLEMS = (
    "problem with my {w} again",
    "my {w} is broken, why",
    "mein {w} geht schon wieder nicht",
    "still waiting for the {w}",
    "{w} {v} ist kaputt",
    "love the new {w} {v}",
    "anyone tried {w} {v}?",
    "great {w} today, thanks",
)
WIFI_REPORTS = (
    "Das WLAN im ICE geht schon wieder nicht",
    "wifi on the train is down again?",
    "Kein WLAN im Zug, super",
    "WLAN im ICE funktioniert nicht, seit einer Stunde",
    "train wifi not working for anyone else?",
    "Warum ist das WLAN im ICE so schlecht",
    "no wifi on my train again, annoying",
    "WLAN tot. Wie immer im ICE",
    "wifi keeps dropping on the ICE to Berlin",
    "ICE WLAN mal wieder kaputt",
)


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))


def baseline(
    hours: float, per_minute: float = 3.0, seed: int = 1, start: datetime = START, prefix: str = "b"
) -> list[ReportIn]:
    """Everyday traffic: many small topics, some of it complaints, none of it bursting."""
    rng = random.Random(seed)
    vocabulary = [_word(rng) for _ in range(400)]
    reports: list[ReportIn] = []
    t = start
    end = start + timedelta(hours=hours)
    number = 0
    while True:
        t += timedelta(seconds=rng.expovariate(per_minute / 60.0))
        if t >= end:
            return reports
        text = rng.choice(_PROBLEMS).format(w=rng.choice(vocabulary), v=rng.choice(vocabulary))
        reports.append(ReportIn(id=f"{prefix}{number}", created_at=t, text=text, author=f"u{rng.randint(0, 5000)}"))
        number += 1


def burst(
    start: datetime, count: int = 20, minutes: float = 10.0, seed: int = 2, texts: tuple[str, ...] = WIFI_REPORTS
) -> list[ReportIn]:
    """Reports of one outage, in German and English, from distinct authors."""
    rng = random.Random(seed)
    times = sorted(start + timedelta(minutes=rng.uniform(0, minutes)) for _ in range(count))
    return [
        ReportIn(
            id=f"x{n}",
            created_at=t,
            text=texts[n % len(texts)],
            author=f"a{n}",
            channel="mastodon" if n % 2 else "bluesky",
            language="de" if "W" in texts[n % len(texts)][:5] else "en",
            location="Berlin" if n % 3 == 0 else None,
        )
        for n, t in enumerate(times)
    ]


def merged(*streams: list[ReportIn]) -> list[ReportIn]:
    return sorted((r for s in streams for r in s), key=lambda r: r.created_at)
