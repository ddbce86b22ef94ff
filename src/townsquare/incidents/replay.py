"""Replay a recorded message stream through the detector, exactly as the live pipeline runs it.

Messages are fed one at a time in file order (no look-ahead, no periodic batching), and every
incident the detector opened is reported with all the reports that joined it while it was open.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from townsquare.incidents.detector import DetectorSettings, IncidentDetector, IncidentSignal, ReportIn


@dataclass(slots=True)
class IncidentRecord:
    """One incident as the replay writes it."""

    id: str
    title: str
    detected_at: datetime
    first_message_at: datetime
    message_ids: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "detected_at": self.detected_at.isoformat(),
            "first_message_at": self.first_message_at.isoformat(),
            "message_ids": self.message_ids,
            "terms": self.terms,
            "languages": self.languages,
            "channels": self.channels,
            "locations": self.locations,
        }


class IncidentLog:
    """Folds the detector's signals into one record per incident."""

    def __init__(self) -> None:
        self.records: dict[str, IncidentRecord] = {}

    def apply(self, signals: Iterable[IncidentSignal]) -> None:
        for signal in signals:
            record = self.records.get(signal.incident_key)
            if record is None:
                record = IncidentRecord(
                    id=signal.incident_key,
                    title=signal.title,
                    detected_at=signal.detected_at,
                    first_message_at=signal.first_message_at,
                )
                self.records[signal.incident_key] = record
            record.message_ids.extend(signal.message_ids)
            # Title and terms settle as the incident grows; keep the latest view.
            record.title = signal.title
            record.terms = signal.terms
            record.languages = signal.languages
            record.channels = signal.channels
            record.locations = signal.locations
            record.first_message_at = min(record.first_message_at, signal.first_message_at)

    def in_detection_order(self) -> list[IncidentRecord]:
        return sorted(self.records.values(), key=lambda r: (r.detected_at, r.id))


def parse_lines(lines: Iterable[str], on_error: Callable[[int, str], None]) -> Iterator[ReportIn]:
    """Reports from JSON lines; a bad line is reported with its 1-based number and skipped."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield ReportIn.model_validate_json(line)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "line"
            on_error(number, f"{where}: {first['msg']}")
        except ValueError as error:  # pragma: no cover - pydantic raises ValidationError for JSON
            on_error(number, str(error))


def replay(
    reports: Iterable[ReportIn],
    settings: DetectorSettings | None = None,
    on_out_of_order: Callable[[ReportIn], None] | None = None,
) -> list[IncidentRecord]:
    """Run detection over the reports, one by one, and return the incidents it opened."""
    detector = IncidentDetector(settings)
    log = IncidentLog()
    last: datetime | None = None
    for report in reports:
        if last is not None and report.created_at < last and on_out_of_order is not None:
            on_out_of_order(report)
        last = report.created_at if last is None else max(last, report.created_at)
        log.apply(detector.observe([report]))
    return log.in_detection_order()


def dumps(record: IncidentRecord) -> str:
    return json.dumps(record.to_json(), ensure_ascii=False)
