"""`townsquare ingest`: JSON lines in, through the same pipeline as live traffic.

Each line is one message in the normalized shape (docs/ingest.md). A line that is not JSON or not
a valid message is reported with its number and skipped; the rest goes on. Messages are stored
in whole batches inside one transaction each, so a message is either fully stored or not at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from townsquare.config import Settings
from townsquare.model import InboundMessage
from townsquare.pipeline import Pipeline
from townsquare.store.db import Database

MAX_LINE_BYTES = 1_000_000


@dataclass
class IngestReport:
    stored: int = 0
    duplicates: int = 0
    failed: int = 0
    bad_lines: int = 0


def parse_line(line: bytes) -> InboundMessage:
    """One line to a message, or ValueError with a reason a person can act on."""
    if len(line) > MAX_LINE_BYTES:
        raise ValueError(f"line longer than {MAX_LINE_BYTES} bytes")
    try:
        document = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(
            f"not JSON ({error.msg if isinstance(error, json.JSONDecodeError) else 'bad UTF-8'})"
        ) from None
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    try:
        return InboundMessage.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}" for problem in error.errors()[:5]
        )
        raise ValueError(problems) from None


def ingest_file(settings: Settings, path: Path, console: Console) -> IngestReport:
    db = Database(settings.database_url)
    db.migrate()
    pipeline = Pipeline(db, settings)
    report = IngestReport()
    batch: list[InboundMessage] = []

    def flush() -> None:
        result = pipeline.process(batch)
        report.stored += result.stored
        report.duplicates += result.duplicates
        report.failed += result.failed
        batch.clear()

    columns = (TextColumn("ingest"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress, path.open("rb") as stream:
        task = progress.add_task("ingest", total=path.stat().st_size)
        for number, line in enumerate(stream, start=1):
            progress.advance(task, len(line))
            if not line.strip():
                continue
            try:
                batch.append(parse_line(line))
            except ValueError as error:
                report.bad_lines += 1
                console.print(f"line {number}: skipped: {error}", markup=False, highlight=False)
                continue
            if len(batch) >= settings.pipeline_batch_size:
                flush()
        if batch:
            flush()
    db.dispose()
    return report
