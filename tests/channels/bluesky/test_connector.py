"""The Bluesky connector against payloads recorded from the real local network (one test per
fixture) and an in-memory PDS on httpx.MockTransport for sending, sessions and failures. Every
request and response is checked against the official lexicons (when shared/specs is present)."""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.channels.bluesky import lexicons
from tests.channels.bluesky.fake import COMPANY_DID, FakeBluesky, fixture, xrpc_error
from townsquare.channels.base import DeliveryError, RateLimited, ReconnectRequired
from townsquare.channels.bluesky import richtext
from townsquare.channels.bluesky.connector import BlueskyConnector, BlueskySettings
from townsquare.channels.bluesky.cursor import LOOKBACK, NotificationCursor
from townsquare.channels.registry import connector_class
from townsquare.model import AuthorIdentity, OutboundReply, Visibility

BASE = {
    "handle": "acmemobile.test",
    "app_password": "app-pass-word",
    "service_url": "http://pds.test",
    "web_url": "https://bsky.app",
}
SETTINGS = BlueskySettings.model_validate(BASE)


def connector(fake: FakeBluesky, **settings: Any) -> BlueskyConnector:
    return BlueskyConnector("acme", BlueskySettings.model_validate({**BASE, **settings}), transport=fake.transport())


def post_of(name: str) -> dict[str, Any]:
    post: dict[str, Any] = fixture(name)["getPosts"]["posts"][0]
    return post


EXPECTED: dict[str, dict[str, Any]] = {
    "notification__mention.json": dict(reason="mention", language="de", reply=False, quote=False),
    "notification__reply.json": dict(reason="reply", language="de", reply=True, quote=False),
    "notification__quote.json": dict(reason="quote", language="de", reply=False, quote=True),
    "post__facets.json": dict(reason="mention", language="en", reply=False, quote=False),
    "notification__hostile_html.json": dict(reason="mention", language=None, reply=False, quote=False),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_into_the_normalized_message(name: str) -> None:
    fake = FakeBluesky()
    fake.load(name)
    result = connector(fake).poll(None)
    [message] = result.messages
    expected = EXPECTED[name]
    post = post_of(name)
    record = post["record"]
    rkey = post["uri"].rsplit("/", 1)[-1]
    assert message.channel == "bluesky" and message.account == "acme"
    assert message.external_id == post["uri"]
    assert message.text == record["text"]  # as written: HTML, emoji and all
    assert message.language == expected["language"]
    assert message.visibility == Visibility.PUBLIC
    assert message.author.external_id == post["author"]["did"]
    assert message.author.handle == post["author"]["handle"]
    assert message.author.display_name == post["author"]["displayName"]
    assert message.author.reach == fixture(name)["getProfiles"]["profiles"][0]["followersCount"]
    assert message.url == f"https://bsky.app/profile/{post['author']['handle']}/post/{rkey}"
    assert message.created_at == datetime.fromisoformat(post["indexedAt"])
    if expected["reply"]:
        assert message.in_reply_to == record["reply"]["parent"]["uri"]
        assert message.thread_root == record["reply"]["root"]["uri"]
        assert message.in_reply_to != message.thread_root
    else:
        assert message.in_reply_to is None and message.thread_root is None
    assert message.raw["reason"] == expected["reason"]
    assert message.raw["post"] == post
    assert message.raw["quoted"] == (record["embed"]["record"]["uri"] if expected["quote"] else None)
    assert result.cursor is not None
    assert fake.nsids()[:2] == ["com.atproto.server.createSession", "app.bsky.notification.listNotifications"]
    assert "app.bsky.notification.updateSeen" in fake.nsids()


def test_every_fixture_has_a_test() -> None:
    covered = set(EXPECTED) | {"notification__like.json", "notification__malformed.json"}
    # chat__*.json: test_chat.py
    assert {path.name for path in lexicons_fixtures() if not path.name.startswith("chat__")} == covered


def lexicons_fixtures() -> list[Any]:
    from tests.channels.bluesky.fake import FIXTURES

    return sorted(FIXTURES.glob("*.json"))


def test_recorded_payloads_match_the_lexicons() -> None:
    lexicons.require_specs()
    for name in EXPECTED:
        document = fixture(name)
        lexicons.check_output("app.bsky.notification.listNotifications", document["listNotifications"])
        lexicons.check_output("app.bsky.feed.getPosts", document["getPosts"])
        for post in document["getPosts"]["posts"]:
            lexicons.validate(post["record"], {"type": "unknown"}, "app.bsky.feed.post", strict=True)


def test_other_notifications_are_ignored() -> None:
    fake = FakeBluesky()
    fake.load("notification__like.json")
    result = connector(fake).poll(None)
    assert result.messages == []
    # The connector asks only for the reasons it handles.
    [listing] = fake.requests("app.bsky.notification.listNotifications")
    assert sorted(listing.url.params.get_list("reasons")) == ["mention", "quote", "reply"]


def test_malformed_payloads_are_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeBluesky(check_lexicons=False)
    fake.load("notification__malformed.json")
    fake.load("notification__reply.json")
    with caplog.at_level(logging.WARNING):
        result = connector(fake).poll(None)
    [message] = result.messages  # the good reply goes through
    assert message.raw["reason"] == "reply"
    assert "malformed Bluesky notification" in caplog.text
    assert "malformed Bluesky post" in caplog.text
    assert "12345" not in caplog.text  # payloads are never logged


def test_huge_text_and_names_are_cut_not_refused() -> None:
    fake = FakeBluesky()
    fake.check_lexicons = False  # the AppView would not serve this; a hostile one might
    fake.load("notification__mention.json")
    post = next(iter(fake.posts.values()))
    post["record"]["text"] = "x" * 200_000
    post["author"]["displayName"] = fake.profiles[0]["displayName"] = "y" * 5_000
    post["record"]["langs"] = ["not-a-language-tag-at-all", "de"]
    [message] = connector(fake).poll(None).messages
    assert len(message.text) == 100_000 and message.text.endswith("[…]")
    assert len(message.author.display_name) == 512
    assert message.language is None


def test_a_restart_resumes_after_the_cursor_without_duplicates() -> None:
    fake = FakeBluesky()
    fake.load("notification__mention.json")
    first = connector(fake).poll(None)
    assert len(first.messages) == 1
    # A new process with the stored cursor: nothing again, and no busy loop.
    again = connector(fake).poll(first.cursor)
    assert again.messages == [] and again.cursor == first.cursor
    fake.load("notification__reply.json")
    fake.load("notification__quote.json")
    later = connector(fake).poll(first.cursor)
    assert [m.raw["reason"] for m in later.messages] == ["reply", "quote"]  # oldest first
    assert connector(fake).poll(later.cursor).messages == []


def test_a_late_indexed_post_behind_the_cursor_is_not_lost() -> None:
    """The AppView sorts by min(createdAt, indexedAt): a post written just before one we saw,
    but indexed after our poll, appears behind the cursor."""
    fake = FakeBluesky()
    fake.load("notification__reply.json")
    first = connector(fake).poll(None)
    seen_at = datetime.fromisoformat(fake.notifications[0]["indexedAt"])
    fake.load("notification__mention.json")
    late = fake.notifications[-1]
    late["indexedAt"] = (seen_at - timedelta(seconds=30)).isoformat().replace("+00:00", "Z")
    [message] = connector(fake).poll(first.cursor).messages
    assert message.raw["reason"] == "mention"
    # Past the look-back window it is history.
    fake.load("notification__quote.json")
    fake.notifications[-1]["indexedAt"] = (seen_at - LOOKBACK * 2).isoformat().replace("+00:00", "Z")
    again = connector(fake).poll(first.cursor)
    assert [m.raw["reason"] for m in again.messages] == ["mention"]  # not the quote
    assert not NotificationCursor.parse(first.cursor).is_new("at://x", seen_at - LOOKBACK * 2)


def test_record_keys_are_tids_derived_from_the_reply_id() -> None:
    key = richtext.tid_for_reply("0192f3a4b5c6d7e8f9a0b1c2d3")
    assert key is not None and re.fullmatch(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}", key)
    assert key == richtext.tid_for_reply("0192f3a4b5c6d7e8f9a0b1c2d3")
    assert key != richtext.tid_for_reply("0192f3a4b5c6d7e8f9a0b1c2d4")
    assert richtext.tid_for_reply("not-hex-at-all") is None
    assert richtext.graphemes("👨‍👩‍👧e\u0301") == 2


def test_pages_back_to_the_cursor_and_batches_oldest_first() -> None:
    fake = FakeBluesky(page_size=2)
    mention = fixture("notification__mention.json")
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for index in range(7):
        notification = json.loads(json.dumps(mention["listNotifications"]["notifications"][0]))
        post = json.loads(json.dumps(mention["getPosts"]["posts"][0]))
        uri = post["uri"] + f"{index:02d}"
        notification["uri"] = post["uri"] = uri
        notification["indexedAt"] = post["indexedAt"] = (base + timedelta(minutes=index)).isoformat()
        post["record"]["text"] = f"post {index}"
        fake.notifications.append(notification)
        fake.posts[uri] = post
    fake.profiles.extend(mention["getProfiles"]["profiles"])
    cursor = NotificationCursor().advanced([("at://older", base - timedelta(hours=1))]).dump()
    result = connector(fake).poll(cursor)
    assert [m.text for m in result.messages] == [f"post {i}" for i in range(7)]
    assert len(fake.requests("app.bsky.notification.listNotifications")) == 4
    # getPosts takes at most 25 uris: one call here, batched past that.
    assert len(fake.requests("app.bsky.feed.getPosts")) == 1


def test_a_reply_that_also_mentions_us_is_one_message() -> None:
    fake = FakeBluesky()
    fake.load("notification__reply.json")
    duplicate = json.loads(json.dumps(fake.notifications[0]))
    duplicate["reason"] = "mention"
    fake.notifications.append(duplicate)
    assert len(connector(fake).poll(None).messages) == 1


def reply(visibility: Visibility, text: str = "Das tut uns leid! Wir prüfen das.", **update: Any) -> OutboundReply:
    post = post_of("notification__reply.json")
    values: dict[str, Any] = dict(
        reply_id="0192f3a4b5c6d7e8f9a0b1c2d3",
        account="acme",
        text=text,
        visibility=visibility,
        recipient=AuthorIdentity(external_id=post["author"]["did"], handle=post["author"]["handle"]),
        in_reply_to=post["uri"],
        thread_root=post["record"]["reply"]["root"]["uri"],
        conversation_id="c1",
    )
    values.update(update)
    return OutboundReply(**values)


def test_public_reply_is_threaded_with_strong_refs_and_a_mention_facet() -> None:
    fake = FakeBluesky()
    fake.load("notification__reply.json")
    receipt = connector(fake).send(reply(Visibility.PUBLIC, "🙁 Das tut uns leid!"))
    parent = post_of("notification__reply.json")
    [create] = fake.requests("com.atproto.repo.createRecord")
    body = json.loads(create.content)
    record = body["record"]
    assert body["repo"] == COMPANY_DID and body["collection"] == "app.bsky.feed.post"
    assert record["reply"] == {
        "root": parent["record"]["reply"]["root"],  # the thread's root, not the parent
        "parent": {"uri": parent["uri"], "cid": parent["cid"]},
    }
    handle = parent["author"]["handle"]
    assert record["text"] == f"@{handle} 🙁 Das tut uns leid!"
    [facet] = record["facets"]
    encoded = record["text"].encode()
    assert encoded[facet["index"]["byteStart"] : facet["index"]["byteEnd"]] == f"@{handle}".encode()
    assert facet["features"] == [{"$type": "app.bsky.richtext.facet#mention", "did": parent["author"]["did"]}]
    assert receipt.external_id == f"at://{COMPANY_DID}/app.bsky.feed.post/{body['rkey']}"
    assert receipt.url == f"https://bsky.app/profile/acmemobile.test/post/{body['rkey']}"


def test_reply_to_a_top_level_post_uses_it_as_root_and_facets_count_bytes() -> None:
    fake = FakeBluesky()
    fake.load("post__facets.json")
    post = post_of("post__facets.json")
    text = f"👨‍👩‍👧 Hallo @{post['author']['handle']}, Status: https://status.example.com/x."
    connector(fake).send(reply(Visibility.PUBLIC, text, in_reply_to=post["uri"], thread_root=post["uri"]))
    record = json.loads(fake.requests("com.atproto.repo.createRecord")[0].content)["record"]
    ref = {"uri": post["uri"], "cid": post["cid"]}
    assert record["reply"] == {"root": ref, "parent": ref}
    assert record["text"] == text  # already names the customer: no prefix
    encoded = text.encode()
    spans = [encoded[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode() for f in record["facets"]]
    assert spans == [f"@{post['author']['handle']}", "https://status.example.com/x"]


def test_text_limits_count_graphemes_not_characters() -> None:
    fake = FakeBluesky()
    fake.load("notification__reply.json")
    bluesky = connector(fake, mention_customer=False)
    combining = "e\u0301" * 300  # 600 code points, 300 graphemes, 900 bytes: allowed
    assert len(combining) == 600
    bluesky.send(reply(Visibility.PUBLIC, combining, reply_id="0192f3a4b5c6aaaaaaaaaaaaaa"))
    with pytest.raises(DeliveryError) as too_long:
        bluesky.send(reply(Visibility.PUBLIC, "a" * 301))
    assert not too_long.value.retryable
    # 200 family emoji are 200 graphemes but 3600 bytes: over the byte limit.
    with pytest.raises(DeliveryError):
        bluesky.send(reply(Visibility.PUBLIC, "👨‍👩‍👧" * 200))
    with pytest.raises(DeliveryError):
        bluesky.send(reply(Visibility.PUBLIC, "   "))


def test_the_mention_prefix_is_left_out_when_it_would_not_fit() -> None:
    fake = FakeBluesky()
    fake.load("notification__reply.json")
    connector(fake).send(reply(Visibility.PUBLIC, "a" * 295))
    record = json.loads(fake.requests("com.atproto.repo.createRecord")[0].content)["record"]
    assert record["text"] == "a" * 295 and "facets" not in record


def test_a_retried_send_returns_the_post_the_first_attempt_created() -> None:
    fake = FakeBluesky()
    fake.load("notification__reply.json")
    bluesky = connector(fake)
    first = bluesky.send(reply(Visibility.PUBLIC))
    second = bluesky.send(reply(Visibility.PUBLIC))  # e.g. the first answer timed out
    assert second.external_id == first.external_id
    assert len(fake.records) == 1


def test_public_reply_to_a_deleted_post_fails_for_good() -> None:
    fake = FakeBluesky()
    with pytest.raises(DeliveryError) as raised:
        connector(fake).send(reply(Visibility.PUBLIC))
    assert not raised.value.retryable


def test_an_expired_access_token_is_refreshed_and_the_call_retried_once() -> None:
    fake = FakeBluesky()
    fake.load("notification__reply.json")
    bluesky = connector(fake)
    bluesky.poll(None)
    fake.valid_tokens = set()  # the access token expired; the refresh token still works
    bluesky.send(reply(Visibility.PUBLIC))
    assert fake.nsids().count("com.atproto.server.refreshSession") == 1
    assert fake.requests("com.atproto.repo.createRecord")[0].headers["authorization"] == "Bearer access-2"


def test_a_refused_refresh_needs_a_reconnect() -> None:
    fake = FakeBluesky()
    fake.load("notification__reply.json")
    bluesky = connector(fake)
    bluesky.poll(None)
    fake.valid_tokens = set()
    fake.overrides["com.atproto.server.refreshSession"] = lambda _r: xrpc_error(400, "ExpiredToken", "expired")
    with pytest.raises(ReconnectRequired):
        bluesky.send(reply(Visibility.PUBLIC))


def test_a_wrong_app_password_needs_a_reconnect() -> None:
    with pytest.raises(ReconnectRequired):
        connector(FakeBluesky(), app_password="revoked").poll(None)


def test_rate_limits_report_the_reset_time() -> None:
    fake = FakeBluesky()
    reset = int(time.time()) + 120
    fake.overrides["app.bsky.feed.getPosts"] = lambda _r: xrpc_error(
        429, "RateLimitExceeded", "slow down", headers={"ratelimit-reset": str(reset), "ratelimit-remaining": "0"}
    )
    bluesky = connector(fake)
    with pytest.raises(RateLimited) as raised:
        bluesky.send(reply(Visibility.PUBLIC))
    assert raised.value.retryable
    assert raised.value.retry_after is not None and 100 < raised.value.retry_after <= 120
    # Until the reset, the connector answers for the network instead of calling it again.
    calls = len(fake.calls)
    with pytest.raises(RateLimited) as again:
        bluesky.poll(None)
    assert len(fake.calls) == calls and again.value.retry_after is not None and again.value.retry_after > 100


@pytest.mark.parametrize(
    ("response", "retryable"),
    [
        (xrpc_error(502, "UpstreamFailure", "appview down"), True),
        (xrpc_error(503, "NotEnoughResources"), True),
        (xrpc_error(400, "InvalidRequest", "Invalid record"), False),
    ],
)
def test_server_errors_are_delivery_errors(response: httpx.Response, retryable: bool) -> None:
    fake = FakeBluesky()
    fake.load("notification__reply.json")
    fake.overrides["com.atproto.repo.createRecord"] = lambda _r: response
    fake.overrides["com.atproto.repo.getRecord"] = lambda _r: xrpc_error(400, "RecordNotFound")
    with pytest.raises(DeliveryError) as raised:
        connector(fake).send(reply(Visibility.PUBLIC))
    assert raised.value.retryable is retryable
    assert not isinstance(raised.value, ReconnectRequired)


def test_timeouts_are_retryable() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    bluesky = BlueskyConnector("acme", SETTINGS, transport=httpx.MockTransport(slow))
    with pytest.raises(DeliveryError) as raised:
        bluesky.send(reply(Visibility.PUBLIC))
    assert raised.value.retryable and not isinstance(raised.value, ReconnectRequired)


# Direct messages: the chat service is not part of dev-env, so these run against the lexicons.

CONVO = {
    "id": "3kconvo0000001",
    "rev": "3kconvorev0001",
    "members": [
        {"did": COMPANY_DID, "handle": "acmemobile.test"},
        {"did": "did:plc:customercustomercustomer", "handle": "lena.test"},
    ],
    "muted": False,
    "unreadCount": 0,
}


def chat(fake: FakeBluesky, *, refuse: str | None = None) -> None:
    def convo(request: httpx.Request) -> httpx.Response:
        if refuse:
            return xrpc_error(400, refuse, "recipient does not accept messages")
        return httpx.Response(200, json={"convo": CONVO})

    def send(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        message = {
            "id": "3kmessage00001",
            "rev": "3kmessagerev01",
            "text": body["message"]["text"],
            "sender": {"did": COMPANY_DID},
            "sentAt": "2026-11-29T18:00:00.000Z",
        }
        return httpx.Response(200, json=message)

    fake.overrides["chat.bsky.convo.getConvoForMembers"] = convo
    fake.overrides["chat.bsky.convo.sendMessage"] = send


def test_private_reply_is_a_direct_message_through_the_chat_proxy() -> None:
    lexicons.require_specs()
    fake = FakeBluesky()
    chat(fake)
    text = "Danke! Bitte schicken Sie uns Ihre Kundennummer: https://acme.example/form"
    receipt = connector(fake).send(reply(Visibility.PRIVATE, text))
    [convo] = fake.requests("chat.bsky.convo.getConvoForMembers")
    [message] = fake.requests("chat.bsky.convo.sendMessage")
    for request in (convo, message):
        assert request.headers["atproto-proxy"] == "did:web:api.bsky.chat#bsky_chat"
        assert request.headers["authorization"] == "Bearer access-1"
    assert convo.url.params.get_list("members") == [post_of("notification__reply.json")["author"]["did"]]
    body = json.loads(message.content)
    assert body["convoId"] == CONVO["id"] and body["message"]["text"] == text
    [link] = body["message"]["facets"]
    assert link["features"][0]["uri"] == "https://acme.example/form"
    assert receipt.external_id == "chat:3kconvo0000001:3kmessage00001"
    assert "com.atproto.repo.createRecord" not in fake.nsids()  # nothing public


def test_direct_message_limits_and_refusals() -> None:
    lexicons.require_specs()
    fake = FakeBluesky()
    chat(fake)
    bluesky = connector(fake)
    bluesky.send(reply(Visibility.PRIVATE, "ü" * 1000))  # DMs allow 1000 graphemes
    with pytest.raises(DeliveryError) as too_long:
        bluesky.send(reply(Visibility.PRIVATE, "ü" * 1001))
    assert not too_long.value.retryable
    refusing = FakeBluesky()
    assert "MessagesDisabled" in lexicons.errors("chat.bsky.convo.getConvoForMembers")
    chat(refusing, refuse="MessagesDisabled")
    with pytest.raises(DeliveryError) as refused:
        connector(refusing).send(reply(Visibility.PRIVATE, "Hallo"))
    assert not refused.value.retryable and "MessagesDisabled" in str(refused.value)


def test_the_lexicon_check_catches_a_wrong_shape() -> None:
    lexicons.require_specs()
    with pytest.raises(lexicons.LexiconError):
        lexicons.check_input("chat.bsky.convo.sendMessage", {"convoId": "x", "message": {"text": 5}})
    with pytest.raises(lexicons.LexiconError):
        lexicons.check_input(
            "com.atproto.repo.createRecord",
            {
                "repo": COMPANY_DID,
                "collection": "app.bsky.feed.post",
                "record": {"$type": "app.bsky.feed.post", "text": "x" * 301, "createdAt": "2026-01-01T00:00:00Z"},
            },
        )


def test_registered_with_settings_and_limits() -> None:
    assert connector_class("bluesky") is BlueskyConnector
    assert BlueskyConnector.limits.max_text_length == 300
    schema = BlueskySettings.model_json_schema()
    assert schema["properties"]["app_password"]["secret"] is True
    assert "app-pass-word" not in repr(SETTINGS)
