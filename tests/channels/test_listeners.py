"""Polling and streaming accounts: the listener resumes from the stored cursor, saves it only
after the messages are stored, and survives a failing network."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from tests.conftest import wait_for
from tests.factories import message
from townsquare.channels import registry
from townsquare.channels.base import ChannelLimits, Connector, PollResult, SentReceipt
from townsquare.channels.listeners import ListenerService
from townsquare.model import OutboundReply
from townsquare.pipeline.batch import Batch
from townsquare.runtime import Runtime
from townsquare.store import accounts, ingest
from townsquare.store import conversations as convs


class FakeFeed(Connector):
    """A network with ten posts, served two at a time; the third call fails once."""

    name = "fakefeed"
    title = "Fake feed"
    limits = ChannelLimits(max_text_length=100)
    receives: ClassVar[tuple[str, ...]] = ("poll",)
    poll_interval_seconds = 0.05
    calls: ClassVar[list[str | None]] = []
    failed_once: ClassVar[bool] = False

    def poll(self, cursor: str | None) -> PollResult:
        FakeFeed.calls.append(cursor)
        if len(FakeFeed.calls) == 3 and not FakeFeed.failed_once:
            FakeFeed.failed_once = True
            raise ConnectionError("network hiccup")
        start = int(cursor or 0)
        batch = [message(f"f{i}", author=f"a{i}", channel="fakefeed") for i in range(start, min(start + 2, 10))]
        return PollResult(batch, str(start + len(batch)))

    def send(self, reply: OutboundReply) -> SentReceipt:
        raise NotImplementedError


class FakeStream(FakeFeed):
    name = "fakestream"
    receives: ClassVar[tuple[str, ...]] = ("stream",)

    def poll(self, cursor: str | None) -> PollResult:
        return PollResult([], cursor)

    def stream(self, cursor: str | None, stop: threading.Event) -> Iterator[PollResult]:
        for index in range(int(cursor or 0), 4):
            yield PollResult([message(f"s{index}", author="s", channel="fakestream")], str(index + 1))
        stop.wait(0.05)


@pytest.fixture(autouse=True)
def fake_connectors() -> Iterator[None]:
    FakeFeed.calls, FakeFeed.failed_once = [], False
    registry.register(FakeFeed)
    registry.register(FakeStream)
    yield
    registry.unregister(FakeFeed.name)
    registry.unregister(FakeStream.name)


def stored(runtime: Runtime, channel: str) -> int:
    with runtime.db.read() as conn:
        rows, _ = convs.list_conversations(conn, convs.ConversationFilter(channel=channel), limit=200)
    return sum(row["message_count"] for row in rows)


def cursor_of(runtime: Runtime, channel: str) -> str | None:
    with runtime.db.read() as conn:
        row = accounts.get_account(conn, channel, "acme")
    return row["cursor"] if row else None


def test_polling_resumes_from_the_stored_cursor(runtime: Runtime) -> None:
    with runtime.db.write() as conn:
        accounts.upsert_account(conn, "fakefeed", "acme", {})
    service = ListenerService(runtime, scan_seconds=0.05)
    service.start()
    try:
        wait_for(lambda: cursor_of(runtime, "fakefeed") == "10")
    finally:
        service.stop()
    assert stored(runtime, "fakefeed") == 10
    assert FakeFeed.failed_once  # the failure was retried, nothing lost
    # A restart starts where the last run stopped: no refetch from the beginning.
    FakeFeed.calls = []
    service = ListenerService(runtime, scan_seconds=0.05)
    service.start()
    try:
        wait_for(lambda: FakeFeed.calls)
    finally:
        service.stop()
    assert FakeFeed.calls[0] == "10"
    assert stored(runtime, "fakefeed") == 10


def test_streaming_stores_and_moves_the_cursor(runtime: Runtime) -> None:
    with runtime.db.write() as conn:
        accounts.upsert_account(conn, "fakestream", "acme", {})
    service = ListenerService(runtime, scan_seconds=0.05)
    service.start()
    try:
        wait_for(lambda: cursor_of(runtime, "fakestream") == "4")
    finally:
        service.stop()
    assert stored(runtime, "fakestream") == 4


class FailsOnceWithoutDeadLetter:
    """A store stage that cannot store "f3" the first time, while dead letters cannot be written
    either (the patched insert below): f3 is then recorded nowhere."""

    name = "fails-once"

    def __init__(self) -> None:
        self.failing = True

    def process(self, batch: Batch) -> None:
        if self.failing and any(item.message.external_id == "f3" for item in batch.active()):
            raise ValueError("cannot store f3 right now")


def test_a_fetched_message_recorded_nowhere_is_fetched_again(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    stage = FailsOnceWithoutDeadLetter()
    runtime.pipeline.store_stages.insert(0, stage)
    real_insert = ingest.insert_dead_letter

    def dead_letter_fails_once(*args: Any) -> None:
        if stage.failing:
            stage.failing = False  # both recover: the next poll can store f3
            raise OSError("disk full")
        real_insert(*args)

    monkeypatch.setattr(ingest, "insert_dead_letter", dead_letter_fails_once)
    with runtime.db.write() as conn:
        accounts.upsert_account(conn, "fakefeed", "acme", {})
    service = ListenerService(runtime, scan_seconds=0.05)
    service.start()
    try:
        wait_for(lambda: cursor_of(runtime, "fakefeed") == "10", timeout=20)
    finally:
        service.stop()
    assert not stage.failing
    assert stored(runtime, "fakefeed") == 10  # f3 too: the cursor did not move past it
