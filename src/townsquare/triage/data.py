"""Labelled data: the public sets in ``shared/data`` and our own intent set, as plain records.

A labelled example is a ``Labelled`` row; any label may be missing (``None``) because each source
labels something else: XLM-T sentiment, GermEval sentiment, the complaint tweets, our intents.
A company's own history uses the same JSONL format (see docs/triage.md), so ``townsquare train``
and ``townsquare eval triage`` take it as well.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .schema import INTENTS, SENTIMENTS, valid_unicode

INTENTS_FILE = Path(__file__).parent / "data" / "intents.jsonl"
# XLM-T's language of a tweet is the set it was collected into; we read these sets line by line
# and wrote down the language of every line that is not in its set's language (docs/triage.md,
# "The language audit"). Only the ids and our labels are kept here, not the tweets.
LANGUAGE_AUDIT_FILE = Path(__file__).parent / "data" / "xlmt_language_audit.jsonl"
# The files we read in full, with the start of their SHA-1: the audit applies to these exact
# files only (a line of them not in the audit file is in its set's language).
LANGUAGE_AUDITED: dict[tuple[str, str], str] = {
    ("ar", "val"): "99f9fba1103b",
    ("de", "val"): "4b369cc542bb",
    ("en", "val"): "ca17afd6f328",
    ("es", "val"): "59d10173a990",
    ("fr", "val"): "ef4ead37fd3e",
    ("hi", "val"): "fcac566c0259",
    ("it", "val"): "8a008d508374",
    ("pt", "val"): "c851c6fa9f47",
    ("de", "train"): "ac7f0ac87a78",
    ("hi", "train"): "5cbd10a8dfd8",
}

XLMT_LANGUAGES: dict[str, str] = {
    "arabic": "ar",
    "english": "en",
    "french": "fr",
    "german": "de",
    "hindi": "hi",
    "italian": "it",
    "portuguese": "pt",
    "spanish": "es",
}


@dataclass
class Labelled:
    text: str
    source: str
    language: str | None = None
    sentiment: str | None = None
    complaint: bool | None = None
    intents: list[str] | None = None
    needs_reply: bool | None = None
    spam: bool | None = None
    id: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def shared_data_dir() -> Path | None:
    """``$TOWNSQUARE_SHARED_DATA`` or ``../shared/data`` next to the repository, if it exists."""
    env = os.environ.get("TOWNSQUARE_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[3] / ".." / "shared" / "data")
    for path in candidates:
        if (path / "sentiment-xlmt").is_dir():
            return path.resolve()
    return None


def _lines(path: Path) -> list[str]:
    return _split_lines(path.read_text(encoding="utf-8"))


def _split_lines(text: str) -> list[str]:
    lines = text.split("\n")
    while lines and lines[-1] == "":
        lines.pop()
    return lines


def language_audit() -> dict[str, str]:
    """Our language of each XLM-T line that is not in its set's language, by row id."""
    return {row["id"]: row["language"] for row in map(json.loads, _lines(LANGUAGE_AUDIT_FILE))}


def xlmt(data_dir: Path, split: str, audited: bool = False) -> Iterator[Labelled]:
    """XLM-T tweet sentiment (0 negative, 1 neutral, 2 positive), one language folder each.

    ``language`` is the set's language; with ``audited``, it is the language we found when we read
    the line (``LANGUAGE_AUDIT_FILE``; "und" for a line without words to judge) in the files we
    read (``LANGUAGE_AUDITED``), and ``extra["set_language"]`` keeps the set's.
    """
    audit = language_audit() if audited else {}
    for folder, code in XLMT_LANGUAGES.items():
        base = data_dir / "sentiment-xlmt" / folder
        if not (base / f"{split}_text.txt").exists():
            continue
        raw = (base / f"{split}_text.txt").read_bytes()
        checked = hashlib.sha1(raw, usedforsecurity=False).hexdigest()[:12] == LANGUAGE_AUDITED.get((code, split))
        # as read_text would: universal newlines
        texts = _split_lines(raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n"))
        labels = _lines(base / f"{split}_labels.txt")
        if len(texts) != len(labels):
            raise ValueError(f"{base}: {len(texts)} texts but {len(labels)} labels in {split}")
        for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
            row_id = f"xlmt-{code}-{split}-{i}"
            yield Labelled(
                text=text,
                source=f"xlmt-{split}",
                language=audit.get(row_id, code) if checked else code,
                sentiment=SENTIMENTS[int(label)],
                id=row_id,
                extra={"set_language": code} if audited else {},
            )


def germeval(data_dir: Path) -> Iterator[Labelled]:
    """GermEval 2017 (Deutsche Bahn): url, text, relevant, sentiment, aspects."""
    path = data_dir / "germeval2017" / "dev.tsv"
    if not path.exists():
        return
    with path.open(encoding="utf-8", newline="") as f:
        for i, row in enumerate(csv.reader(f, delimiter="\t")):
            if len(row) >= 4 and row[3] in SENTIMENTS:
                yield Labelled(text=row[1], source="germeval2017", language="de", sentiment=row[3], id=f"ge-{i}")


def complaints(data_dir: Path) -> Iterator[Labelled]:
    """Preotiuc-Pietro et al. 2019: English tweets to support accounts, is_complaint 0/1."""
    path = data_dir / "complaints" / "complaints-train.csv"
    if not path.exists():
        return
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            yield Labelled(
                text=row["text"],
                source="complaints",
                language="en",
                complaint=row["is_complaint"] == "1",
                id=f"complaints-{row['tweet_id']}",
                extra={"domain": row["domain"]},
            )


def from_jsonl_record(record: dict[str, object], default_id: str) -> Labelled:
    """One line of a labelled JSONL file (our intent set or a company's history)."""
    text = record.get("text")
    if not isinstance(text, str):
        raise ValueError("'text' must be a string")
    valid_unicode(text)
    intents = record.get("intents", record.get("intent"))
    if isinstance(intents, str):
        intents = [intents]
    if intents is not None and (
        not isinstance(intents, list) or not all(isinstance(i, str) and i in INTENTS for i in intents)
    ):
        raise ValueError(f"'intents' must be a list of {', '.join(INTENTS)}")
    sentiment = record.get("sentiment")
    if sentiment is not None and sentiment not in SENTIMENTS:
        raise ValueError(f"'sentiment' must be one of {', '.join(SENTIMENTS)}")
    language = record.get("language")

    def flag(name: str) -> bool | None:
        value = record.get(name)
        if value is not None and not isinstance(value, bool):
            raise ValueError(f"'{name}' must be true or false")
        return value

    complaint = flag("complaint")
    if complaint is None and intents:
        complaint = "complaint" in intents
    return Labelled(
        text=text,
        source=str(record.get("source", "jsonl")),
        language=language if isinstance(language, str) else None,
        sentiment=sentiment if isinstance(sentiment, str) else None,
        complaint=complaint,
        intents=list(intents) if intents else None,
        needs_reply=flag("needs_reply"),
        spam=flag("spam"),
        id=str(record.get("id", default_id)),
        extra={"origin": str(record.get("origin", "real"))},
    )


def read_jsonl(path: Path) -> Iterator[Labelled]:
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if line.strip():
                try:
                    yield from_jsonl_record(json.loads(line), default_id=f"{path.name}:{n}")
                except (ValueError, json.JSONDecodeError) as exc:
                    raise ValueError(f"{path}:{n}: {exc}") from exc


def intent_set() -> list[Labelled]:
    """Our own labelled intent set, shipped with the package (see docs/triage.md for how it was made)."""
    return list(read_jsonl(INTENTS_FILE))
