import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from tests.incidents.synthetic import baseline, burst, merged
from tests.incidents.test_detector import ONSET
from townsquare.incidents.commands import register


def incidents_app() -> typer.Typer:
    app = typer.Typer()
    incidents = typer.Typer()
    register(incidents)
    app.add_typer(incidents, name="incidents")
    return app


def write_stream(path: Path, bad_lines: bool = False) -> set[str]:
    outage = burst(ONSET)
    lines = [r.model_dump_json(exclude_none=True) for r in merged(baseline(8.0), outage)]
    if bad_lines:
        lines.insert(3, "{not json")
        lines.insert(7, json.dumps({"id": "no-time", "text": "hi"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {r.id for r in outage}


def test_replay_writes_one_json_line_per_incident(tmp_path: Path) -> None:
    source = tmp_path / "messages.jsonl"
    outage_ids = write_stream(source)
    result = CliRunner().invoke(incidents_app(), ["incidents", "replay", str(source)])
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    incident = json.loads(line)
    assert {"id", "title", "detected_at", "first_message_at", "message_ids", "terms"} <= incident.keys()
    assert len(set(incident["message_ids"]) & outage_ids) >= 18
    assert incident["detected_at"] >= incident["first_message_at"]


def test_bad_lines_are_reported_with_their_number_and_skipped(tmp_path: Path) -> None:
    source = tmp_path / "messages.jsonl"
    write_stream(source, bad_lines=True)
    result = CliRunner().invoke(incidents_app(), ["incidents", "replay", str(source)])
    assert result.exit_code == 0
    assert f"{source}:4: skipped" in result.stderr
    assert f"{source}:8: skipped: created_at" in result.stderr
    assert len(result.stdout.splitlines()) == 1


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(incidents_app(), ["incidents", "replay", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
    assert "cannot read" in result.stderr


def test_out_of_order_input_is_processed_and_reported(tmp_path: Path) -> None:
    source = tmp_path / "messages.jsonl"
    reports = baseline(1.0)
    reports[5], reports[6] = reports[6], reports[5]
    source.write_text("\n".join(r.model_dump_json() for r in reports), encoding="utf-8")
    result = CliRunner().invoke(incidents_app(), ["incidents", "replay", str(source)])
    assert result.exit_code == 0
    assert "1 messages were older" in result.stderr
