from __future__ import annotations

import json
import re
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


def test_language_audit_file_holds_labels_not_tweets() -> None:
    rows = [json.loads(line) for line in data.LANGUAGE_AUDIT_FILE.read_text(encoding="utf-8").splitlines()]
    assert len({r["id"] for r in rows}) == len(rows) > 800
    for r in rows:
        match = re.fullmatch(r"xlmt-([a-z]{2})-(train|val)-(\d+)", r["id"])
        assert match and (match[1], match[2]) in data.LANGUAGE_AUDITED, r
        assert re.fullmatch(r"[a-z]{2,3}", r["language"]) and r["language"] != match[1], r
        assert set(r) == {"id", "language", "note"} and len(r["note"]) <= 60, r


def test_audited_languages_apply_to_the_files_we_read(data_dir: Path) -> None:
    val = list(data.xlmt(data_dir, "val", audited=True))
    moved = Counter((r.extra["set_language"], r.language) for r in val if r.language != r.extra["set_language"])
    assert moved[("hi", "en")] == 100  # a third of the "Hindi" val set is English
    assert moved[("de", "en")] == 16
    assert sum(moved.values()) < 150
    plain = list(data.xlmt(data_dir, "val"))
    assert [r.language for r in plain] == [r.extra["set_language"] for r in val]
    assert all(r.extra == {} for r in plain)


def test_the_audit_leaves_other_files_alone(tmp_path: Path) -> None:
    base = tmp_path / "sentiment-xlmt" / "hindi"
    base.mkdir(parents=True)
    (base / "val_text.txt").write_text("kya baat hai\nwhat a day\nsahi hai\nbhai kya hua\n", encoding="utf-8")
    (base / "val_labels.txt").write_text("1\n1\n1\n1\n", encoding="utf-8")
    rows = list(data.xlmt(tmp_path, "val", audited=True))
    assert [r.language for r in rows] == ["hi"] * 4  # line 0 of the real set is English; not this file's
