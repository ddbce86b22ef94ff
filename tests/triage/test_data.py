from __future__ import annotations

from collections import Counter
from pathlib import Path

from townsquare.triage import data
from townsquare.triage.schema import INTENTS


def test_intent_set_is_valid_and_covers_every_class() -> None:
    rows = data.intent_set()
    assert len(rows) >= 700
    assert len({r.id for r in rows}) == len(rows)
    real = [r for r in rows if r.extra["origin"] == "real"]
    assert len(real) >= 600
    firsts = Counter(r.intents[0] for r in rows if r.intents)
    assert set(firsts) == set(INTENTS)
    assert all(r.needs_reply is not None and r.spam is not None for r in rows)
    assert {r.language for r in real} >= {"de", "en"}


def test_shared_data_loaders(data_dir: Path) -> None:
    xlmt = list(data.xlmt(data_dir, "val"))
    assert Counter(r.language for r in xlmt) == dict.fromkeys(data.XLMT_LANGUAGES.values(), 324)
    germeval = list(data.germeval(data_dir))
    assert len(germeval) > 2500
    complaints = list(data.complaints(data_dir))
    assert len(complaints) == 2805
    assert 900 < sum(bool(r.complaint) for r in complaints) < 1100
