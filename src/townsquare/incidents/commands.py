"""``townsquare incidents replay``: the evaluation contract of the detector."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from townsquare.incidents.detector import DetectorSettings, ReportIn
from townsquare.incidents.replay import dumps, parse_lines, replay


def register(incidents_app: typer.Typer) -> None:
    """Add the detection commands to the ``incidents`` command group."""
    incidents_app.command("replay")(replay_command)


def replay_command(
    file: Annotated[Path, typer.Argument(help="JSON lines: id, created_at, text; optional channel, language, author.")],
    sensitivity: Annotated[float, typer.Option(min=0.0, max=1.0, help="0 = only overwhelming bursts, 1 = jumpy.")] = (
        DetectorSettings().sensitivity
    ),
    min_reports: Annotated[int, typer.Option(min=2, help="Distinct authors needed to open an incident.")] = (
        DetectorSettings().min_reports
    ),
) -> None:
    """Replay messages in file order through live detection and print one JSON line per incident.

    Output fields: id, title, detected_at, first_message_at, message_ids, terms (plus languages,
    channels, locations). A bad input line is reported on stderr with its number and skipped.
    """
    settings = DetectorSettings(sensitivity=sensitivity, min_reports=min_reports)
    out_of_order = 0

    def bad_line(number: int, reason: str) -> None:
        typer.echo(f"{file}:{number}: skipped: {reason}", err=True)

    def late(report: ReportIn) -> None:
        nonlocal out_of_order
        out_of_order += 1

    try:
        with file.open(encoding="utf-8") as lines:
            records = replay(parse_lines(lines, bad_line), settings, late)
    except OSError as error:
        typer.echo(f"cannot read {file}: {error.strerror or error}", err=True)
        raise typer.Exit(code=2) from error
    if out_of_order:
        typer.echo(
            f"{file}: {out_of_order} messages were older than an earlier one; they were counted at "
            "the time of the newest message seen (the file should be in time order)",
            err=True,
        )
    write = sys.stdout.write
    for record in records:
        write(dumps(record) + "\n")
