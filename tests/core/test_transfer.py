"""`townsquare ingest` and `townsquare export conversations`: bad lines reported by number and
skipped, nothing half-written, and what goes out can come back in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.factories import message
from townsquare.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_triage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOWNSQUARE_TRIAGE", "off")


def test_ingest_reports_bad_lines_and_stores_the_rest(tmp_path: Path, sqlite_url: str) -> None:
    good = [message(f"m{i}", author=f"u{i % 3}", minutes=i).model_dump_json() for i in range(6)]
    lines = [
        good[0],
        "{not json",
        good[1],
        '{"channel": "demo"}',
        "[1, 2, 3]",
        "",
        good[2],
        json.dumps({**json.loads(good[3]), "visibility": "shouting"}),
        good[3],
        good[4],
        good[5],
        good[5],
    ]
    source = tmp_path / "in.jsonl"
    source.write_bytes(("\n".join(lines) + "\n").encode() + b'{"text": "\xff\xfe broken utf-8"}\n')
    result = runner.invoke(app, ["ingest", str(source), "--database-url", sqlite_url])
    assert result.exit_code == 1  # bad lines make the run fail, after storing the good ones
    assert "line 2: skipped: not JSON" in result.output
    assert "line 4: skipped: external_id: Field required; author: Field required" in result.output
    assert "line 5: skipped: not a JSON object" in result.output
    assert "line 8: skipped: visibility" in result.output
    assert "line 13: skipped: not JSON (bad UTF-8)" in result.output
    assert "stored 6, duplicates 1, bad lines 5" in " ".join(result.output.split())

    exported = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["export", "conversations", "-o", str(exported), "--database-url", sqlite_url])
    assert result.exit_code == 0, result.output
    documents = [json.loads(line) for line in exported.read_text().splitlines()]
    assert len(documents) == 3  # three authors, one running conversation each
    assert sum(len(d["messages"]) for d in documents) == 6
    assert {"status", "priority", "tags", "contact_name", "messages", "notes"} <= set(documents[0])


def test_exported_messages_can_be_ingested_elsewhere(tmp_path: Path, sqlite_url: str) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(message(f"m{i}", author="u1", minutes=i).model_dump_json() for i in range(3)))
    assert runner.invoke(app, ["ingest", str(source), "--database-url", sqlite_url]).exit_code == 0
    again = runner.invoke(app, ["ingest", str(source), "--database-url", sqlite_url])
    assert "stored 0, duplicates 3" in " ".join(again.output.split())


def test_bad_settings_get_a_clear_message_not_a_traceback(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOWNSQUARE_PIPELINE_BATCH_SIZE", "lots")
    result = runner.invoke(app, ["migrate", "--database-url", sqlite_url])
    assert result.exit_code == 2
    assert "setting pipeline_batch_size" in " ".join(result.output.split())
    assert "Traceback" not in result.output
    monkeypatch.delenv("TOWNSQUARE_PIPELINE_BATCH_SIZE")
    broken = tmp_path / "broken.toml"
    broken.write_text("port = [unclosed\n")
    monkeypatch.setenv("TOWNSQUARE_CONFIG", str(broken))
    result = runner.invoke(app, ["migrate", "--database-url", sqlite_url])
    assert result.exit_code == 2 and "configuration:" in result.output
