"""The outbox: replies are delivered through the connector, retried with backoff on failures
(honouring the network's Retry-After), failed for good after the last attempt or on errors that
cannot heal, and recorded as outbound messages with the network's id."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN
from tests.factories import message
from townsquare.channels.hub import ConnectorHub
from townsquare.clock import as_utc, utcnow
from townsquare.config import Settings
from townsquare.model import Visibility
from townsquare.outbox.worker import Outbox, backoff_seconds
from townsquare.runtime import Runtime
from townsquare.store import accounts, replies
from townsquare.store import conversations as convs


def test_backoff_doubles_caps_and_honours_retry_after() -> None:
    assert [backoff_seconds(n, None) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert backoff_seconds(30, None) == 3600
    assert backoff_seconds(1, 120) == 120


class Network:
    """A scripted demo network: answers each publish with the next response."""

    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.responses.pop(0)


def setup(runtime: Runtime, network: Network) -> tuple[Outbox, str]:
    with runtime.db.write() as conn:
        accounts.upsert_account(
            conn, "demo", "acme", {"base_url": "http://demo.test", "api_key": "k", "webhook_secret": "s"}
        )
    runtime.pipeline.process([message("p1", text="@acme my bill is wrong")])
    hub = ConnectorHub(runtime.db, lambda _channel: httpx.MockTransport(network))
    outbox = Outbox(runtime.db, hub, runtime.events, runtime.settings)
    with runtime.db.read() as conn:
        conversation_id = convs.list_conversations(conn, convs.ConversationFilter())[0][0]["id"]
    return outbox, conversation_id


def reply_row(runtime: Runtime, reply_id: str) -> dict[str, Any]:
    with runtime.db.read() as conn:
        row = replies.get_reply(conn, reply_id)
    assert row is not None
    return row


def make_due(runtime: Runtime, reply_id: str) -> None:
    with runtime.db.write() as conn:
        replies.update_reply(conn, reply_id, next_attempt_at=utcnow() - timedelta(seconds=1))


def test_delivery_records_the_networks_id(runtime: Runtime) -> None:
    network = Network(httpx.Response(201, json={"id": "net-1", "url": "http://demo.test/p/net-1"}))
    outbox, conversation_id = setup(runtime, network)
    reply_id = runtime.actions.reply(ADMIN, conversation_id, "Sorry! We are on it.", Visibility.PUBLIC)
    assert outbox.deliver_due() == 1
    row = reply_row(runtime, reply_id)
    assert (row["status"], row["external_id"], row["attempts"]) == ("sent", "net-1", 1)
    with runtime.db.read() as conn:
        conversation = convs.get_conversation(conn, conversation_id)
        outbound = [m for m in convs.messages_of(conn, conversation_id) if m["direction"] == "outbound"]
    assert conversation is not None and conversation["first_responded_at"] is not None
    assert conversation["status"] == "open" and conversation["message_count"] == 2
    assert outbound[0]["external_id"] == "net-1" and outbound[0]["in_reply_to"] == "p1"
    assert outbox.deliver_due() == 0  # delivered once, not again


def test_rate_limits_and_server_errors_are_retried(runtime: Runtime) -> None:
    network = Network(
        httpx.Response(429, headers={"Retry-After": "90"}),
        httpx.Response(503),
        httpx.Response(201, json={"id": "net-2"}),
    )
    outbox, conversation_id = setup(runtime, network)
    reply_id = runtime.actions.reply(ADMIN, conversation_id, "On it", Visibility.PUBLIC)
    before = utcnow()
    outbox.deliver_due()
    row = reply_row(runtime, reply_id)
    assert row["status"] == "queued" and row["attempts"] == 1 and "rate limited" in row["last_error"]
    assert as_utc(row["next_attempt_at"]) >= before + timedelta(seconds=89)  # the network's Retry-After
    assert outbox.deliver_due() == 0  # not due yet
    make_due(runtime, reply_id)
    outbox.deliver_due()
    assert reply_row(runtime, reply_id)["attempts"] == 2
    make_due(runtime, reply_id)
    outbox.deliver_due()
    assert reply_row(runtime, reply_id)["status"] == "sent"
    assert len(network.requests) == 3
    assert {r.headers["idempotency-key"] for r in network.requests} == {reply_id}  # retries are recognisable


def test_gives_up_after_the_last_attempt(settings: Settings) -> None:
    settings.outbox_max_attempts = 2
    runtime = Runtime.create(settings)
    outbox, conversation_id = setup(runtime, Network(httpx.Response(500), httpx.Response(500)))
    reply_id = runtime.actions.reply(ADMIN, conversation_id, "On it", Visibility.PUBLIC)
    outbox.deliver_due()
    make_due(runtime, reply_id)
    outbox.deliver_due()
    assert reply_row(runtime, reply_id)["status"] == "failed"
    runtime.stop()


def test_revoked_credentials_fail_at_once_and_flag_the_account(runtime: Runtime) -> None:
    outbox, conversation_id = setup(runtime, Network(httpx.Response(401)))
    reply_id = runtime.actions.reply(ADMIN, conversation_id, "On it", Visibility.PUBLIC)
    outbox.deliver_due()
    assert reply_row(runtime, reply_id)["status"] == "failed"
    with runtime.db.read() as conn:
        account = accounts.get_account(conn, "demo", "acme")
    assert account is not None and account["status"] == "reconnect"


@pytest.mark.parametrize("text", ["x" * 501])
def test_replies_longer_than_the_network_allows_are_refused(runtime: Runtime, text: str) -> None:
    from townsquare.actions import Invalid

    _outbox, conversation_id = setup(runtime, Network())
    with pytest.raises(Invalid, match="at most 500 characters"):
        runtime.actions.reply(ADMIN, conversation_id, text, Visibility.PUBLIC)


def test_drafts_wait_until_sent_and_are_checked_then(runtime: Runtime) -> None:
    network = Network(httpx.Response(201, json={"id": "net-3"}))
    outbox, conversation_id = setup(runtime, network)
    draft_id = runtime.actions.reply(ADMIN, conversation_id, "x" * 600, Visibility.PUBLIC, draft=True)
    assert outbox.deliver_due() == 0  # drafts are never delivered
    from townsquare.actions import Invalid

    with pytest.raises(Invalid, match="at most 500"):
        runtime.actions.send_draft(ADMIN, draft_id)  # the checks apply when it is sent
    runtime.actions.send_draft(ADMIN, draft_id, text="Shorter and kind.")
    assert outbox.deliver_due() == 1
    row = reply_row(runtime, draft_id)
    assert (row["status"], row["text"], row["external_id"]) == ("sent", "Shorter and kind.", "net-3")
    other = runtime.actions.reply(ADMIN, conversation_id, "never mind", Visibility.PUBLIC, draft=True)
    runtime.actions.discard_draft(ADMIN, other)
    with runtime.db.read() as conn:
        assert replies.get_reply(conn, other) is None
