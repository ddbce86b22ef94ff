"""Receiving Bluesky direct messages (`chat.bsky.convo.getLog` through the PDS's chat proxy).

The chat service is not part of the local network (dev-env has none), so these run against the
in-memory fake, which checks every request and response against the official lexicons in
`shared/specs/bluesky-lexicons/`; the fixtures `chat__*.json` are written from those lexicons.
Without the lexicons the tests skip: nothing else tells us the shapes are right.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.channels.bluesky import lexicons
from tests.channels.bluesky.fake import COMPANY_DID, FIXTURES, FakeBluesky, fixture, xrpc_error
from townsquare.channels.base import DeliveryError, ReconnectRequired
from townsquare.channels.bluesky.chat import RETRY_AFTER_FAILURE, RETRY_AFTER_REFUSAL, ZERO_REV
from townsquare.channels.bluesky.connector import BlueskyConnector, BlueskySettings
from townsquare.channels.bluesky.cursor import NotificationCursor, seen_key
from townsquare.channels.bluesky.normalize import chat_convo
from townsquare.model import AuthorIdentity, InboundMessage, OutboundReply, Visibility

BASE = {
    "handle": "acmemobile.test",
    "app_password": "app-pass-word",
    "service_url": "http://pds.test",
    "web_url": "https://bsky.app",
}
LENA = "did:plc:tsshx2e7balkzv3vb2lzmyou"
LENA_CONVO = "3ld27pgnmh42s"
GET_LOG = "chat.bsky.convo.getLog"


@pytest.fixture(autouse=True)
def _lexicons() -> None:
    lexicons.require_specs()


def connector(fake: FakeBluesky, **settings: Any) -> BlueskyConnector:
    return BlueskyConnector("acme", BlueskySettings.model_validate({**BASE, **settings}), transport=fake.transport())


def started(fake: FakeBluesky) -> str:
    """The cursor after the very first poll, before the customer wrote anything."""
    result = connector(fake).poll(None)
    cursor = result.cursor
    assert result.messages == [] and isinstance(cursor, str)
    return cursor


def entry_of(name: str, message_id: str) -> dict[str, Any]:
    for entry in fixture(name)["getLog"]["logs"]:
        if (
            isinstance(entry, dict)
            and isinstance(entry.get("message"), dict)
            and entry["message"].get("id") == message_id
        ):
            found: dict[str, Any] = entry
            return found
    raise LookupError(message_id)


# Message ids each fixture must yield, in order.
EXPECTED: dict[str, list[str]] = {
    "chat__new_message.json": ["3ld2a5xk6wc2a"],
    "chat__begin_convo.json": ["3ld2a6zwpxs2a"],
    "chat__deleted_message.json": [],  # deleted after writing, or before we read the log
    "chat__own_message.json": [],  # the company's own message and a read receipt
    "chat__hostile_html.json": ["3ld2amcf3gs2o"],
    "chat__malformed.json": ["3ld2amzn3xs2d"],  # the one good message among broken entries
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_chat_fixture_becomes_private_messages(name: str, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeBluesky(check_lexicons=name != "chat__malformed.json")
    cursor = started(fake)
    document = fake.load_chat(name)
    with caplog.at_level(logging.INFO):
        bluesky = connector(fake)
        result = bluesky.poll(cursor)
    assert [m.external_id.rsplit(":", 1)[1] for m in result.messages] == EXPECTED[name]
    profiles = {p["did"]: p for p in document["getProfiles"]["profiles"]}
    for message in result.messages:
        entry = entry_of(name, message.external_id.rsplit(":", 1)[1])
        view = entry["message"]
        profile = profiles[view["sender"]["did"]]
        assert message.channel == "bluesky" and message.account == "acme"
        assert message.external_id == f"chat:{entry['convoId']}:{view['id']}"
        assert message.visibility == Visibility.PRIVATE
        assert message.text == view["text"]  # as written, HTML and all
        assert message.created_at == datetime.fromisoformat(view["sentAt"])
        assert message.author.external_id == view["sender"]["did"] != COMPANY_DID
        assert message.author.handle == profile["handle"]
        assert message.author.display_name == profile["displayName"]
        assert message.author.reach == profile["followersCount"]
        assert message.url == f"https://bsky.app/messages/{entry['convoId']}"
        assert message.in_reply_to is None and message.thread_root is None
        assert message.raw == {"reason": "direct_message", "convo_id": entry["convoId"], "log": entry}
    # The position moved to the log's end, so nothing comes again.
    assert NotificationCursor.parse(result.cursor).chat == document["getLog"]["cursor"]
    again = connector(fake).poll(result.cursor)
    assert again.messages == [] and again.cursor == result.cursor
    for request in fake.requests(GET_LOG):
        assert request.headers["atproto-proxy"] == "did:web:api.bsky.chat#bsky_chat"
    if name == "chat__malformed.json":
        assert caplog.text.count("malformed Bluesky chat log entry") == 2  # no $type; not an object
        assert caplog.text.count("malformed Bluesky direct message") == 2  # bad text and date; no message
        assert "12345" not in caplog.text and "yesterday" not in caplog.text  # payloads are never logged
    if name == "chat__deleted_message.json":
        assert "deleted" in caplog.text
    if result.messages:
        # Marked read in the official app on the next poll, once the listener stored them.
        bluesky.poll(result.cursor)
        [read] = fake.requests("chat.bsky.convo.updateRead")
        assert json.loads(read.content) == {
            "convoId": result.messages[-1].url.rsplit("/", 1)[1],
            "messageId": EXPECTED[name][-1],
        }


def test_every_chat_fixture_has_a_test() -> None:
    assert {path.name for path in FIXTURES.glob("chat__*.json")} == set(EXPECTED)


def test_chat_fixtures_match_the_lexicons() -> None:
    for name in EXPECTED:
        document = fixture(name)
        if name == "chat__malformed.json":
            with pytest.raises(lexicons.LexiconError):
                lexicons.check_output(GET_LOG, document["getLog"])
        else:
            lexicons.check_output(GET_LOG, document["getLog"])


def test_history_before_the_first_poll_is_not_imported() -> None:
    fake = FakeBluesky()
    fake.load_chat("chat__new_message.json")
    fake.convos = [fake._convo(LENA_CONVO)]  # listConvos: the conversation as it stands now
    first = connector(fake).poll(None)
    assert first.messages == []
    assert NotificationCursor.parse(first.cursor).chat == "3ld2a5xk7mc2c"
    fake.load_chat("chat__begin_convo.json")
    [message] = connector(fake).poll(first.cursor).messages
    assert message.author.handle == "jonas.test"


def test_a_restart_resumes_the_chat_log_without_loss_or_duplicates() -> None:
    fake = FakeBluesky()
    fake.load("notification__mention.json")
    start = connector(fake).poll(None)
    assert [m.visibility for m in start.messages] == [Visibility.PUBLIC]
    fake.load_chat("chat__new_message.json")
    first = connector(fake).poll(start.cursor)
    assert [m.text[:6] for m in first.messages] == ["Hallo!"]
    # A new process with the stored cursor: nothing again, and the notification part is intact.
    assert connector(fake).poll(first.cursor).messages == []
    fake.load_chat("chat__begin_convo.json")
    fake.load_chat("chat__hostile_html.json")
    fake.load("notification__reply.json")
    later = connector(fake).poll(first.cursor)
    assert sorted(m.visibility.value + ":" + m.author.handle for m in later.messages) == [
        "private:jonas.test",
        "private:mallory.test",
        f"public:{fixture('notification__reply.json')['getPosts']['posts'][0]['author']['handle']}",
    ]
    # Crashed before the cursor was stored: the same messages again (the store drops the
    # duplicates by external id), none lost.
    assert {m.external_id for m in connector(fake).poll(first.cursor).messages} == {
        m.external_id for m in later.messages
    }
    assert connector(fake).poll(later.cursor).messages == []


def test_the_log_is_read_page_by_page_within_one_poll() -> None:
    fake = FakeBluesky(chat_page_size=1)
    cursor = started(fake)
    for name in ("chat__new_message.json", "chat__begin_convo.json", "chat__hostile_html.json"):
        fake.load_chat(name)
    result = connector(fake).poll(cursor)
    assert [m.author.handle for m in result.messages] == ["lena06a7.test", "jonas.test", "mallory.test"]
    assert len(fake.requests(GET_LOG)) == 7  # five entries a page each, one empty page, the start


def test_an_old_cursor_without_a_chat_part_still_loads() -> None:
    fake = FakeBluesky()
    fake.load("notification__mention.json")
    notification = fake.notifications[0]
    indexed = datetime.fromisoformat(notification["indexedAt"])
    # What the connector stored before it received direct messages.
    old = json.dumps(
        {"newest": indexed.isoformat(), "seen": {seen_key(notification["uri"]): indexed.timestamp()}},
        separators=(",", ":"),
    )
    for stored in (old, indexed.isoformat()):
        result = connector(fake).poll(stored)
        position = NotificationCursor.parse(result.cursor)
        assert position.chat == ZERO_REV and position.newest == indexed
        if stored == old:
            assert result.messages == []  # the mention was handed over before the upgrade


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def with_clock(bluesky: BlueskyConnector) -> Clock:
    clock = Clock()
    bluesky.chat.clock = clock
    return clock


def test_a_chat_service_that_is_down_does_not_stop_notifications(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeBluesky()
    cursor = started(fake)
    fake.load("notification__mention.json")
    fake.load_chat("chat__new_message.json")
    fake.overrides[GET_LOG] = lambda _r: xrpc_error(502, "UpstreamFailure", "chat service unreachable")
    bluesky = connector(fake)
    clock = with_clock(bluesky)
    with caplog.at_level(logging.DEBUG, logger="townsquare.channels.bluesky"):
        first = bluesky.poll(cursor)
        assert [m.visibility for m in first.messages] == [Visibility.PUBLIC]
        assert NotificationCursor.parse(first.cursor).chat == NotificationCursor.parse(cursor).chat
        calls = len(fake.requests(GET_LOG))
        clock.now += RETRY_AFTER_FAILURE / 2  # within the pause the chat service is left alone
        assert bluesky.poll(first.cursor).messages == []
        assert len(fake.requests(GET_LOG)) == calls
        clock.now += RETRY_AFTER_FAILURE  # tried again, still down: not logged again
        bluesky.poll(first.cursor)
        assert len(fake.requests(GET_LOG)) == calls + 1
        del fake.overrides[GET_LOG]
        clock.now += RETRY_AFTER_FAILURE
        [message] = bluesky.poll(first.cursor).messages
    assert message.visibility == Visibility.PRIVATE
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "direct messages are not being received" in warnings[0].getMessage()
    assert "received again" in caplog.text


@pytest.mark.parametrize(
    "refusal",
    [
        xrpc_error(400, "InvalidToken", "Bad token method"),  # what the PDS answers for such app passwords
        xrpc_error(400, "InvalidToken", "Bad token scope"),
        xrpc_error(401, "AuthRequired", "service auth refused"),
    ],
)
def test_an_app_password_without_dm_access_is_logged_once_and_retried_later(
    refusal: httpx.Response, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeBluesky()
    fake.load("notification__mention.json")
    for nsid in ("chat.bsky.convo.listConvos", GET_LOG):
        fake.overrides[nsid] = lambda _r: refusal
    bluesky = connector(fake)
    clock = with_clock(bluesky)
    with caplog.at_level(logging.WARNING):
        first = bluesky.poll(None)
        assert [m.visibility for m in first.messages] == [Visibility.PUBLIC]
        assert NotificationCursor.parse(first.cursor).chat is None  # not started: try again later
        for _ in range(3):
            clock.now += RETRY_AFTER_REFUSAL + 1
            bluesky.poll(first.cursor)
    assert fake.nsids().count("chat.bsky.convo.listConvos") == 4
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    if refusal.status_code == 400:
        # No fresh login for a token that is fine, just not allowed to chat.
        assert fake.nsids().count("com.atproto.server.createSession") == 1
        assert "does not allow direct messages" in warnings[0]


def test_a_timeout_on_the_chat_service_does_not_stop_notifications() -> None:
    fake = FakeBluesky()
    fake.load("notification__reply.json")

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/xrpc/chat."):
            raise httpx.ReadTimeout("slow", request=request)
        return fake.handle(request)

    bluesky = BlueskyConnector("acme", BlueskySettings.model_validate(BASE), transport=httpx.MockTransport(handle))
    [message] = bluesky.poll(None).messages
    assert message.visibility == Visibility.PUBLIC


def test_direct_messages_can_be_switched_off() -> None:
    fake = FakeBluesky()
    fake.load_chat("chat__new_message.json")
    connector(fake, receive_direct_messages=False).poll(None)
    assert not [nsid for nsid in fake.nsids() if nsid.startswith("chat.")]


def test_a_deletion_after_receiving_keeps_the_stored_copy(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeBluesky()
    cursor = started(fake)
    fake.load_chat("chat__new_message.json")
    first = connector(fake).poll(cursor)
    assert len(first.messages) == 1
    view = entry_of("chat__new_message.json", "3ld2a5xk6wc2a")["message"]
    deleted = {k: v for k, v in view.items() if k != "text"} | {"$type": "chat.bsky.convo.defs#deletedMessageView"}
    fake.chat_logs.append(
        {
            "$type": "chat.bsky.convo.defs#logDeleteMessage",
            "rev": "3ld2azzzzzzzz",
            "convoId": LENA_CONVO,
            "message": deleted,
        }
    )
    with caplog.at_level(logging.INFO):
        again = connector(fake).poll(first.cursor)
    assert again.messages == [] and NotificationCursor.parse(again.cursor).chat == "3ld2azzzzzzzz"
    assert "the stored copy stays" in caplog.text


def test_huge_text_is_cut_not_refused() -> None:
    fake = FakeBluesky(check_lexicons=False)  # the chat service would not serve this; a hostile one might
    cursor = started(fake)
    fake.load_chat("chat__new_message.json")
    fake.chat_logs[-1]["message"]["text"] = "x" * 200_000
    [message] = connector(fake).poll(cursor).messages
    assert len(message.text) == 100_000 and message.text.endswith("[…]")


def private_reply(message: InboundMessage, text: str) -> OutboundReply:
    return OutboundReply(
        reply_id="0192f3a4b5c6d7e8f9a0b1c2d3",
        account="acme",
        text=text,
        visibility=Visibility.PRIVATE,
        recipient=AuthorIdentity(external_id=message.author.external_id, handle=message.author.handle),
        in_reply_to=message.external_id,
        conversation_id="c1",
    )


def test_a_private_reply_goes_into_the_conversation_the_customer_wrote_in() -> None:
    fake = FakeBluesky()
    cursor = started(fake)
    fake.load_chat("chat__begin_convo.json")  # another customer's conversation
    fake.load_chat("chat__new_message.json")
    bluesky = connector(fake)
    received = bluesky.poll(cursor)
    lena = next(m for m in received.messages if m.author.external_id == LENA)
    receipt = bluesky.send(private_reply(lena, "Danke, wir haben die doppelte Abbuchung storniert."))
    assert fake.sent_messages == [(LENA_CONVO, "Danke, wir haben die doppelte Abbuchung storniert.")]
    assert chat_convo(receipt.external_id) == chat_convo(lena.external_id) == LENA_CONVO
    [members] = fake.requests("chat.bsky.convo.getConvoForMembers")
    assert members.url.params.get_list("members") == [LENA]
    # Our message shows up in the log too; it is not taken for the customer's.
    assert bluesky.poll(received.cursor).messages == []


def test_sending_a_dm_without_dm_access_fails_without_a_reconnect() -> None:
    fake = FakeBluesky()
    fake.overrides["chat.bsky.convo.getConvoForMembers"] = lambda _r: xrpc_error(
        400, "InvalidToken", "Bad token method"
    )
    reply = OutboundReply(
        reply_id="0192f3a4b5c6d7e8f9a0b1c2d3",
        account="acme",
        text="Hallo",
        visibility=Visibility.PRIVATE,
        recipient=AuthorIdentity(external_id=LENA, handle="lena06a7.test"),
        conversation_id="c1",
    )
    with pytest.raises(DeliveryError) as raised:
        connector(fake).send(reply)
    assert not raised.value.retryable and not isinstance(raised.value, ReconnectRequired)
    assert "does not allow direct messages" in str(raised.value)
    assert fake.nsids().count("com.atproto.server.createSession") == 1
