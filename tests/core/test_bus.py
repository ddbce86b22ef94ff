"""The durable bus on SQLite and PostgreSQL: what `publish` accepted is in the journal before it
returns, a new process stores what an old one left (oldest first, once), a journal row that no
longer validates is dead-lettered without its text in the log, and `ack` empties the journal even
for a batch the pipeline could not store."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from tests.core.demo_webhooks import WEBHOOK_PATH, WEBHOOK_SECRET, connect_demo_account, post_created
from tests.factories import Poison, message
from townsquare.api.app import create_app
from townsquare.bus import DurableBus
from townsquare.channels.demo.payloads import SIGNATURE_HEADER
from townsquare.config import Settings
from townsquare.model import InboundMessage
from townsquare.pipeline.worker import PipelineWorker
from townsquare.runtime import Runtime
from townsquare.security.signatures import sign
from townsquare.store import journal
from townsquare.store.db import Database
from townsquare.store.tables import bus_journal, conversations, dead_letters, messages


def stored_external_ids(db: Database) -> list[str]:
    """Every stored message's external id, duplicates included."""
    with db.read() as conn:
        return sorted(conn.execute(select(messages.c.external_id)).scalars())


def journal_rows(db: Database) -> int:
    with db.read() as conn:
        return journal.count(conn)


def journal_ids(db: Database) -> list[int]:
    with db.read() as conn:
        return list(conn.execute(select(bus_journal.c.id).order_by(bus_journal.c.id)).scalars())


def webhook_batches() -> list[list[InboundMessage]]:
    """What webhooks deliver: single posts and a batch of 50."""
    single = [[message(f"single-{i}", author=f"s{i}", minutes=i)] for i in range(3)]
    fifty = [message(f"batch-{i:02}", author=f"b{i % 7}", minutes=10 + i) for i in range(50)]
    return [*single, fifty]


def test_publish_returns_after_the_messages_are_in_the_journal(runtime: Runtime) -> None:
    batches = webhook_batches()
    for batch in batches:
        runtime.bus.publish(batch)
    assert journal_rows(runtime.db) == 53
    assert runtime.bus.pending() == 53
    assert stored_external_ids(runtime.db) == []  # the worker is not running: only the journal has them


def test_a_new_runtime_stores_what_the_previous_one_accepted(settings: Settings, runtime: Runtime) -> None:
    # The first runtime accepts and is never started: as if killed before its worker got there.
    expected = sorted(m.external_id for batch in webhook_batches() for m in batch)
    for batch in webhook_batches():
        runtime.bus.publish(batch)
    second = Runtime.create(settings)
    try:
        second.start()
        assert second.bus.drain(30)
        assert stored_external_ids(second.db) == expected
        assert journal_rows(second.db) == 0
    finally:
        second.stop()


def test_recovery_is_oldest_first_and_never_queues_a_message_twice(runtime: Runtime) -> None:
    runtime.bus.publish([message("first")])
    runtime.bus.publish([message("second"), message("third")])
    later = DurableBus(runtime.db)
    later.publish([message("own")])  # this process's own, published before it recovered
    assert later.recover() == 3
    assert later.recover() == 0  # once per process
    delivery = later.consume(100, timeout=1)
    assert delivery is not None
    assert [m.external_id for m in delivery.messages] == ["own", "first", "second", "third"]


def test_stored_but_not_acknowledged_is_replayed_without_duplicates(runtime: Runtime) -> None:
    runtime.bus.publish([message("root", author="lena"), message("reply", author="max", in_reply_to="root")])
    runtime.bus.publish([message("other", author="ada")])
    delivery = runtime.bus.consume(100, timeout=1)
    assert delivery is not None
    assert runtime.pipeline.process(delivery.messages).stored == 3
    # Killed here: stored, never acknowledged. The next process replays the batch.
    replay = DurableBus(runtime.db)
    assert replay.recover() == 3
    again = replay.consume(100, timeout=1)
    assert again is not None
    result = runtime.pipeline.process(again.messages)
    assert (result.stored, result.duplicates) == (0, 3)
    replay.ack(again)
    assert journal_rows(runtime.db) == 0
    assert stored_external_ids(runtime.db) == ["other", "reply", "root"]
    with runtime.db.read() as conn:
        assert conn.execute(select(func.sum(conversations.c.message_count))).scalar_one() == 3


def test_ack_deletes_the_delivered_rows_and_nothing_else(runtime: Runtime) -> None:
    runtime.bus.publish([message("a"), message("b")])
    runtime.bus.publish([message("c")])
    first = runtime.bus.consume(2, timeout=1)
    assert first is not None and [m.external_id for m in first.messages] == ["a", "b"]
    remaining = journal_ids(runtime.db)[2:]
    runtime.bus.ack(first)
    assert journal_ids(runtime.db) == remaining
    assert runtime.bus.pending() == 1
    assert not runtime.bus.drain(0.05)


def test_a_message_the_pipeline_cannot_store_is_dead_lettered_and_acknowledged(runtime: Runtime) -> None:
    runtime.pipeline.store_stages.insert(0, Poison())
    runtime.start()
    runtime.bus.publish(
        [message("a", author="u1"), message("b", author="u2", text="poison"), message("c", author="u3")]
    )
    assert runtime.bus.drain(30)
    assert journal_rows(runtime.db) == 0
    assert stored_external_ids(runtime.db) == ["a", "c"]
    with runtime.db.read() as conn:
        assert list(conn.execute(select(dead_letters.c.external_id)).scalars()) == ["b"]


def test_a_message_neither_stored_nor_dead_lettered_stays_in_the_journal(
    settings: Settings, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from townsquare.store import ingest

    def refused(*_args: object) -> None:
        raise OSError("disk full")

    runtime.pipeline.store_stages.insert(0, Poison())
    with monkeypatch.context() as patch:
        patch.setattr(ingest, "insert_dead_letter", refused)
        runtime.start()
        runtime.bus.publish(
            [message("a", author="u1"), message("b", author="u2", text="poison"), message("c", author="u3")]
        )
        assert runtime.bus.drain(30)  # the worker went on
        assert stored_external_ids(runtime.db) == ["a", "c"]
        assert journal_rows(runtime.db) == 3  # the batch is kept: "b" is recorded nowhere else
        runtime.stop()
    # The next start (dead letters writable again) delivers the batch again: "b" is dead-lettered,
    # "a" and "c" are found stored.
    second = Runtime.create(settings)
    try:
        second.pipeline.store_stages.insert(0, Poison())
        second.start()
        assert second.bus.drain(30)
        assert journal_rows(second.db) == 0
        assert stored_external_ids(second.db) == ["a", "c"]
        with second.db.read() as conn:
            assert list(conn.execute(select(dead_letters.c.external_id)).scalars()) == ["b"]
    finally:
        second.stop()


def test_a_batch_that_raises_in_the_pipeline_is_still_acknowledged(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_messages: object) -> None:
        raise RuntimeError("pipeline bug")

    monkeypatch.setattr(runtime.pipeline, "process", broken)
    worker = PipelineWorker(runtime.bus, runtime.pipeline)
    worker.start()
    try:
        runtime.bus.publish([message("a"), message("b")])
        assert runtime.bus.drain(10)
    finally:
        worker.stop()
    # The worker's last guard logged it and went on; the journal does not hold the batch forever.
    assert journal_rows(runtime.db) == 0


def test_a_journal_row_that_no_longer_validates_is_dead_lettered_and_the_rest_stored(
    settings: Settings, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    secret_text = "Meine IBAN ist DE89370400440532013000"
    runtime.bus.publish([message("ok-1", author="u1")])
    runtime.bus.publish([message("old-model", author="u2", text=secret_text)])
    runtime.bus.publish([message("torn", author="u3", text=secret_text)])
    runtime.bus.publish([message("ok-2", author="u4")])
    _, old_model_id, torn_id, _ = journal_ids(runtime.db)
    with runtime.db.write() as conn:
        old = json.loads(
            conn.execute(select(bus_journal.c.message).where(bus_journal.c.id == old_model_id)).scalar_one()
        )
        del old["author"]  # as if the model had gained a required field since
        old["raw"] = {"note": "nul\u0000byte"}  # legal JSON that PostgreSQL's jsonb refuses
        conn.execute(update(bus_journal).where(bus_journal.c.id == old_model_id).values(message=json.dumps(old)))
        conn.execute(update(bus_journal).where(bus_journal.c.id == torn_id).values(message='{"channel": "demo", "tex'))

    second = Runtime.create(settings)
    try:
        with caplog.at_level(logging.ERROR, logger="townsquare.bus.durable"):
            second.start()
        assert second.bus.drain(30)
    finally:
        second.stop()
    assert stored_external_ids(runtime.db) == ["ok-1", "ok-2"]
    assert journal_rows(runtime.db) == 0
    with runtime.db.read() as conn:
        letters = {row.external_id: row for row in conn.execute(select(dead_letters))}
    assert set(letters) == {"old-model", "torn"}
    assert letters["old-model"].payload["text"] == secret_text  # kept whole, can be mended and replayed
    assert letters["old-model"].payload["raw"] == {"note": "nulbyte"}
    assert letters["old-model"].error == f"bus journal row {old_model_id}: missing at author"
    assert letters["torn"].payload == '{"channel": "demo", "tex'
    assert letters["torn"].error == f"bus journal row {torn_id}: json_invalid"
    assert f"bus journal row {old_model_id} is not a valid message (missing at author)" in caplog.text
    assert f"bus journal row {torn_id} is not a valid message (json_invalid)" in caplog.text
    assert "IBAN" not in caplog.text and "DE89" not in caplog.text  # no customer text in logs


def test_publish_that_cannot_be_written_raises_and_queues_nothing(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*_args: object) -> list[int]:
        raise OSError("disk full")

    monkeypatch.setattr(journal, "append", refused)
    with pytest.raises(OSError):
        runtime.bus.publish([message("a")])
    assert runtime.bus.pending() == 0


def test_a_webhook_answered_202_is_in_the_journal(runtime: Runtime) -> None:
    with runtime.db.write() as conn:
        connect_demo_account(conn)
    body, headers = post_created("p-1", "@acme kein Netz seit heute früh")
    with TestClient(create_app(runtime)) as client:  # the worker is not started
        response = client.post(WEBHOOK_PATH, content=body, headers=headers)
    assert (response.status_code, response.json()) == (202, {"accepted": 1})
    with runtime.db.read() as conn:
        [row] = conn.execute(select(bus_journal)).all()
    assert (row.channel, row.external_id) == ("demo", "p-1")
    assert InboundMessage.model_validate_json(row.message).text == "@acme kein Netz seit heute früh"


def test_a_signed_webhook_with_a_lone_surrogate_is_refused_and_not_journalled(runtime: Runtime) -> None:
    """``"\\ud800"`` is valid JSON that no database can store (PostgreSQL cannot encode it): the
    receiver answers 400, so the network knows, and nothing half-valid reaches the journal."""
    with runtime.db.write() as conn:
        connect_demo_account(conn)
    body, headers = post_created("p-2", "@acme MARK broken")
    body = body.replace(b"MARK", b"\\ud800")
    assert b"\\ud800" in body
    headers[SIGNATURE_HEADER] = sign(WEBHOOK_SECRET, body)
    with TestClient(create_app(runtime)) as client:
        response = client.post(WEBHOOK_PATH, content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert journal_rows(runtime.db) == 0


def test_journal_commits_are_synced_to_disk_on_sqlite(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        for durable, level in [(True, 2), (False, 1), (True, 2)]:  # 2 = FULL, 1 = NORMAL
            with db.write(durable=durable) as conn:
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == level
    finally:
        db.dispose()


class SlowFirstAppend:
    """journal.append, but the first call waits until told to go on, so that other publishes pile
    up behind it; a later call can be made to fail."""

    def __init__(self, fail_after_first: bool = False) -> None:
        self.real = journal.append
        self.calls: list[int] = []  # entries per call
        self.inside = threading.Event()
        self.go_on = threading.Event()
        self.fail_after_first = fail_after_first

    def __call__(self, conn: Any, entries: Any, now: Any) -> list[int]:
        self.calls.append(len(entries))
        if len(self.calls) == 1:
            self.inside.set()
            assert self.go_on.wait(10)
        elif self.fail_after_first:
            raise OSError("disk full")
        return self.real(conn, entries, now)


def publish_in_threads(bus: DurableBus, names: list[str]) -> tuple[list[threading.Thread], dict[str, BaseException]]:
    errors: dict[str, BaseException] = {}

    def publish(name: str) -> None:
        try:
            bus.publish([message(name, author=name)])
        except BaseException as error:
            errors[name] = error

    threads = [threading.Thread(target=publish, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    return threads, errors


def wait_until_waiting(bus: DurableBus, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(bus._waiting) < count:
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_publishes_that_arrive_during_a_journal_write_share_the_next_one(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    append = SlowFirstAppend()
    monkeypatch.setattr(journal, "append", append)
    bus = runtime.bus
    assert isinstance(bus, DurableBus)
    first, _ = publish_in_threads(bus, ["first"])
    assert append.inside.wait(10)
    later, errors = publish_in_threads(bus, [f"later-{i}" for i in range(5)])
    wait_until_waiting(bus, 5)
    append.go_on.set()
    for thread in first + later:
        thread.join(10)
    assert errors == {}
    assert append.calls == [1, 5]  # two commits for six webhooks
    delivery = bus.consume(100, timeout=1)
    assert delivery is not None
    with runtime.db.read() as conn:
        by_id = dict(conn.execute(select(bus_journal.c.id, bus_journal.c.external_id)).all())
    # Each queued message carries the journal id of its own row (what ack deletes).
    assert all(by_id[i] == m.external_id for i, m in zip(delivery.token, delivery.messages, strict=True))
    assert len(by_id) == 6


def test_a_failed_group_commit_fails_every_publish_in_it_and_queues_none(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    append = SlowFirstAppend(fail_after_first=True)
    monkeypatch.setattr(journal, "append", append)
    bus = runtime.bus
    assert isinstance(bus, DurableBus)
    first, first_errors = publish_in_threads(bus, ["first"])
    assert append.inside.wait(10)
    later, errors = publish_in_threads(bus, ["a", "b", "c"])
    wait_until_waiting(bus, 3)
    append.go_on.set()
    for thread in first + later:
        thread.join(10)
    assert first_errors == {}
    assert sorted(errors) == ["a", "b", "c"]  # each webhook hears of it (a 500: the network retries)
    assert all(isinstance(error, OSError) for error in errors.values())
    assert bus.pending() == 1 and journal_rows(runtime.db) == 1
