"""The pipeline runner: named stages in order, events after commit, and a message that cannot be
stored is kept in dead_letters while its batch neighbours are stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.factories import Poison, message
from townsquare.config import Settings, load_settings
from townsquare.events import Event, EventHub
from townsquare.model import InboundMessage
from townsquare.pipeline import Pipeline
from townsquare.pipeline.runner import default_store_stages
from townsquare.runtime import Runtime
from townsquare.store.tables import dead_letters


def test_default_stages_in_order(runtime: Runtime) -> None:
    assert runtime.pipeline.stage_names == [
        "normalize",
        "dedupe",
        "contacts",
        "thread",
        "route",
        "persist",
        "incidents",
    ]


def test_poisoned_message_is_dead_lettered_and_the_rest_stored(runtime: Runtime) -> None:
    events: list[Event] = []
    hub = EventHub()
    hub.listen(events.append)
    pipeline = Pipeline(
        runtime.db, runtime.settings, hub, store=[Poison(), *default_store_stages(runtime.db, runtime.settings)]
    )
    result = pipeline.process(
        [message("a", author="u1"), message("b", author="u2", text="poison"), message("c", author="u3")]
    )
    assert (result.stored, result.failed) == (2, 1)
    with runtime.db.read() as conn:
        letters = conn.execute(select(dead_letters)).all()
    assert [(row.external_id, row.error) for row in letters] == [("b", "ValueError: cannot handle this one")]
    assert letters[0].payload["text"] == "poison"  # kept whole, can be replayed
    assert sum(1 for e in events if e.kind == "conversation.created") == 2


def test_text_is_normalized_before_storing(runtime: Runtime) -> None:
    runtime.pipeline.process([message("n", text="  Cafe\u0301 \x00\x07ok\r\nnext line  ")])
    from townsquare.store import conversations as convs

    with runtime.db.read() as conn:
        conversation = convs.list_conversations(conn, convs.ConversationFilter())[0][0]
        [stored] = convs.messages_of(conn, conversation["id"])
    assert stored["text"] == "Café ok\nnext line"


def test_nul_anywhere_in_a_message_is_dropped_at_parse_time_so_it_stores_on_both_databases(runtime: Runtime) -> None:
    # Legal in JSON, refused by PostgreSQL in text and jsonb: in a display name or a payload field
    # it made the message unstorable there, and its dead letter too (the message was lost).
    payload = message("nul-1").model_dump(mode="json")
    payload["author"]["display_name"] = "Eve\u0000 Example"
    payload["author"]["handle"] = "eve\u0000"
    payload["raw"] = {"note\u0000": ["bad\u0000byte", {"deep": "x\u0000"}], "count": 3}
    parsed = InboundMessage.model_validate(payload)
    assert parsed.author.display_name == "Eve Example" and parsed.raw == {
        "note": ["badbyte", {"deep": "x"}],
        "count": 3,
    }
    result = runtime.pipeline.process([parsed])
    assert (result.stored, result.failed) == (1, 0)
    with runtime.db.read() as conn:
        assert conn.execute(select(dead_letters)).all() == []


def test_priority_and_sla_from_reach(runtime: Runtime) -> None:
    from townsquare.model import AuthorIdentity
    from townsquare.store import conversations as convs

    famous = message("f", author="star").model_copy(
        update={"author": AuthorIdentity(external_id="star", handle="star", reach=250_000)}
    )
    runtime.pipeline.process([famous])
    with runtime.db.read() as conn:
        conversation = convs.list_conversations(conn, convs.ConversationFilter())[0][0]
    assert conversation["priority"] == "high"
    due = conversation["first_response_due_at"] - conversation["first_message_at"]
    assert due.total_seconds() == runtime.settings.sla_first_response_minutes["high"] * 60


def test_settings_from_file_environment_and_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "townsquare.toml"
    config.write_text('database_url = "sqlite:///from-file.db"\nport = 9000\nreopen_window_hours = 24\n')
    monkeypatch.setenv("TOWNSQUARE_CONFIG", str(config))
    monkeypatch.delenv("TOWNSQUARE_DATABASE_URL", raising=False)
    assert load_settings().database_url == "sqlite:///from-file.db"
    assert load_settings().reopen_window_hours == 24
    monkeypatch.setenv("TOWNSQUARE_PORT", "9100")
    assert load_settings().port == 9100  # environment beats the file
    assert load_settings(port=9200).port == 9200  # flags beat both
    assert load_settings(port=None).port == 9100  # a flag not given changes nothing
    monkeypatch.setenv("TOWNSQUARE_PORT", "not-a-port")
    with pytest.raises(ValueError, match="port"):
        load_settings()


def test_every_setting_is_documented() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"`{name}`" in docs and f"TOWNSQUARE_{name.upper()}" in docs, f"{name} is not in docs/configuration.md"


def test_public_personal_data_flags_the_conversation(settings: Settings) -> None:
    settings.triage = "fast"
    runtime = Runtime.create(settings)
    from townsquare.store import conversations as convs

    try:
        runtime.pipeline.process([message("p1", author="u1", text="@acme my bill is wrong")])
        with runtime.db.read() as conn:
            before = convs.list_conversations(conn, convs.ConversationFilter())[0][0]
        assert not before["personal_data_flag"]
        runtime.pipeline.process(
            [
                message(
                    "p2", author="u1", minutes=1, text="@acme call me on +49 151 23456789, IBAN DE89370400440532013000"
                )
            ]
        )
        with runtime.db.read() as conn:
            after = convs.get_conversation(conn, before["id"])
            [_, second] = convs.messages_of(conn, before["id"])
        assert after is not None and after["personal_data_flag"] and after["message_count"] == 2
        assert {span["kind"] for span in second["triage"]["personal_data"]} == {"phone", "iban"}
        assert second["language"] == "en" and second["sentiment"] in {"negative", "neutral", "positive"}
    finally:
        runtime.stop()


def test_company_identifiers_are_personal_data_too(settings: Settings) -> None:
    from townsquare.actions import PersonalDataInPublicReply
    from townsquare.model import Visibility
    from townsquare.store import accounts
    from townsquare.store import conversations as convs

    settings.triage = "fast"
    settings.personal_data_patterns = {"customer_number": r"\bKD-\d{8}\b"}
    runtime = Runtime.create(settings)
    try:
        with runtime.db.write() as conn:
            accounts.upsert_account(
                conn, "demo", "acme", {"base_url": "http://demo.test", "api_key": "k", "webhook_secret": "s"}
            )
        runtime.pipeline.process([message("k1", text="@acme my customer number is KD-12345678, please check")])
        with runtime.db.read() as conn:
            conversation = convs.list_conversations(conn, convs.ConversationFilter())[0][0]
            [stored] = convs.messages_of(conn, conversation["id"])
        assert conversation["personal_data_flag"]
        assert [span["kind"] for span in stored["triage"]["personal_data"]] == ["customer_number"]
        from tests.conftest import ADMIN

        with pytest.raises(PersonalDataInPublicReply, match="customer_number"):
            runtime.actions.reply(ADMIN, conversation["id"], "Your number KD-12345678 is noted", Visibility.PUBLIC)
        runtime.actions.reply(ADMIN, conversation["id"], "Your number KD-12345678 is noted", Visibility.PRIVATE)
    finally:
        runtime.stop()


def test_bad_company_patterns_are_refused_at_start() -> None:
    with pytest.raises(ValueError, match=r"personal_data_patterns\.customer_number"):
        Settings(personal_data_patterns={"customer_number": "KD-(unclosed"})
