"""The web chat connector and its wire format: one test per fixture (the widget's request
bodies), delivery of replies through the visitor hub, settings, and the rate limiter."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from townsquare.channels.base import DeliveryError
from townsquare.channels.webchat.connector import WebchatConnector, WebchatSettings
from townsquare.channels.webchat.inbound import message_external_id, visitor_message
from townsquare.channels.webchat.live import InProcessVisitorHub, VisitorKey, current_hub, use_hub
from townsquare.channels.webchat.payloads import MessageRequest, SessionRequest, TranscriptMessage
from townsquare.channels.webchat.ratelimit import TokenBuckets
from townsquare.channels.webchat.tokens import Visitor
from townsquare.model import AuthorIdentity, OutboundReply, Visibility

FIXTURES = Path(__file__).resolve().parents[3] / "src" / "townsquare" / "channels" / "webchat" / "fixtures"
VISITOR = Visitor("acme", "Zk3v9Qm2LxW8pT4nR7yB1cD5", name="Lena Hoffmann", email="lena@example.com")
NOW = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# -- fixtures: what the widget sends, parsed and normalized ---------------------------------------

MESSAGES: dict[str, dict[str, Any]] = {
    "message__text.json": {
        "text": "Hallo! Mein Router blinkt seit heute Morgen rot. Was kann ich tun?",
        "page": "https://www.acme.example/hilfe/router",
    },
    "message__hostile_html.json": {
        "text": "<img src=x onerror=\"alert(document.cookie)\"> <script>alert('pwned')</script> & "
        "<b>is the network down?</b>",
        "page": "https://www.acme.example/?q=<script>",
    },
    "message__without_client_id.json": {"text": "hello?", "page": None},
    "message__unknown_fields.json": {"text": "Do you ship to Austria?", "page": "https://www.acme.example/shop"},
}
REFUSED_MESSAGES = {
    "message__too_long.json": "at most 5000 characters",
    "message__blank.json": "the message is empty",
    "message__bad_client_id.json": "should match pattern",
}


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_message_fixture_normalizes(name: str) -> None:
    expected = MESSAGES[name]
    request = MessageRequest.model_validate_json(fixture(name))
    external_id = message_external_id(VISITOR, request.client_id)
    message = visitor_message(VISITOR, request, external_id=external_id, now=NOW)
    assert message.channel == "webchat" and message.account == "acme"
    assert message.visibility == Visibility.PRIVATE and message.in_reply_to is None
    assert message.text == expected["text"]  # as is: HTML stays text
    assert message.author == AuthorIdentity(
        external_id="acme:Zk3v9Qm2LxW8pT4nR7yB1cD5", handle="lena@example.com", display_name="Lena Hoffmann"
    )
    assert message.created_at == NOW
    assert message.raw["message"]["page"] == expected["page"]
    assert "attachments" not in message.raw["message"] and "author" not in message.raw["message"]
    assert external_id.startswith("wcm_")
    if request.client_id:
        # Derived from the widget's id: a retried send is the same message.
        assert external_id == message_external_id(VISITOR, request.client_id)
        assert external_id != message_external_id(Visitor("acme", "another-visitor-id-0000"), request.client_id)
    else:
        assert external_id != message_external_id(VISITOR, None)


@pytest.mark.parametrize("name", sorted(REFUSED_MESSAGES))
def test_refused_message_fixture(name: str) -> None:
    with pytest.raises(ValidationError, match=REFUSED_MESSAGES[name]):
        MessageRequest.model_validate_json(fixture(name))


def test_session__new() -> None:
    request = SessionRequest.model_validate_json(fixture("session__new.json"))
    assert (request.token, request.name, request.email) == (None, None, None)


def test_session__with_profile() -> None:
    request = SessionRequest.model_validate_json(fixture("session__with_profile.json"))
    assert request.name == "Lena Hoffmann"
    assert request.email == "Lena.Hoffmann@example.com"  # the domain is case-insensitive


def test_session__hostile_name() -> None:
    request = SessionRequest.model_validate_json(fixture("session__hostile_name.json"))
    assert request.name == "<img src=x onerror=alert(1)>Mallory" and request.email is None


def test_session__bad_email() -> None:
    with pytest.raises(ValidationError):
        SessionRequest.model_validate_json(fixture("session__bad_email.json"))


def test_every_fixture_has_a_test() -> None:
    sessions = {"session__new.json", "session__with_profile.json", "session__hostile_name.json"}
    covered = set(MESSAGES) | set(REFUSED_MESSAGES) | sessions | {"session__bad_email.json"}
    assert {path.name for path in FIXTURES.glob("*.json")} == covered


def test_anonymous_visitor_gets_a_handle() -> None:
    request = MessageRequest(text="hi")
    message = visitor_message(Visitor("acme", "Zk3v9Qm2LxW8pT4nR7yB1cD5"), request, external_id="wcm_1", now=NOW)
    assert message.author.handle == "visitor-Zk3v9Qm2" and message.author.display_name == ""


# -- sending ---------------------------------------------------------------------------------------


def connector(account: str = "acme") -> WebchatConnector:
    return WebchatConnector(account, WebchatSettings(team_name="Acme team"))


def reply(text: str = "Wir kümmern uns darum.", **changes: Any) -> OutboundReply:
    values: dict[str, Any] = {
        "reply_id": "r-0001",
        "account": "acme",
        "text": text,
        "visibility": Visibility.PRIVATE,
        "recipient": AuthorIdentity(external_id=VISITOR.external_id, handle="lena@example.com"),
        "in_reply_to": "wcm_abc",
        "conversation_id": "c-1",
        **changes,
    }
    return OutboundReply(**values)


def test_contract() -> None:
    assert WebchatConnector.receives == ()
    assert WebchatConnector.limits.public_replies is False
    assert WebchatConnector.limits.private_messages is True
    assert WebchatConnector.limits.max_text_length == 5000


def test_send_reaches_the_visitors_open_stream() -> None:
    async def scenario() -> tuple[TranscriptMessage | None, str]:
        subscription = current_hub().subscribe(VisitorKey("acme", VISITOR.id))
        try:
            # The outbox sends from its own thread.
            receipt = await asyncio.to_thread(connector().send, reply("<b>Hallo</b> Lena"))
            return await asyncio.wait_for(subscription.queue.get(), 5), receipt.external_id
        finally:
            current_hub().unsubscribe(subscription)

    message, external_id = asyncio.run(scenario())
    assert message is not None and external_id == "wcr_r-0001"
    assert (message.id, message.direction, message.text, message.author) == (
        "wcr_r-0001",
        "outbound",
        "<b>Hallo</b> Lena",
        "Acme team",
    )


def test_send_to_a_visitor_who_is_away_still_succeeds_with_a_stable_id() -> None:
    first, again = connector().send(reply()), connector().send(reply())
    assert first.external_id == again.external_id == "wcr_r-0001"


def test_send_refuses_what_the_channel_cannot_do() -> None:
    with pytest.raises(DeliveryError, match="no public replies") as public:
        connector().send(reply(visibility=Visibility.PUBLIC))
    assert public.value.retryable is False
    with pytest.raises(DeliveryError, match="5000") as long:
        connector().send(reply("x" * 5001))
    assert long.value.retryable is False
    with pytest.raises(DeliveryError, match="not a visitor of this chat"):
        connector("globex").send(reply())
    with pytest.raises(DeliveryError, match="not a visitor of this chat"):
        connector().send(reply(recipient=AuthorIdentity(external_id="no-colon-here")))


def test_hub_can_be_replaced() -> None:
    published: list[tuple[VisitorKey, str]] = []

    class RecordingHub(InProcessVisitorHub):
        def publish(self, key: VisitorKey, message: TranscriptMessage) -> int:
            published.append((key, message.id))
            return 1

    original = current_hub()
    use_hub(RecordingHub())
    try:
        connector().send(reply())
    finally:
        use_hub(original)
    assert published == [(VisitorKey("acme", VISITOR.id), "wcr_r-0001")]


# -- settings --------------------------------------------------------------------------------------


def test_settings_from_the_command_line() -> None:
    settings = WebchatSettings.model_validate(
        {"allowed_origins": "https://WWW.Acme.example/, http://127.0.0.1:8080", "require_email": "true"}
    )
    assert settings.allowed_origins == ["https://www.acme.example", "http://127.0.0.1:8080"]
    assert settings.require_email is True
    stored = json.loads(settings.model_dump_json())
    assert WebchatSettings.model_validate(stored) == settings


@pytest.mark.parametrize("origin", ["www.acme.example", "https://acme.example/shop", "ftp://acme.example", "null"])
def test_settings_refuse_what_is_no_origin(origin: str) -> None:
    with pytest.raises(ValidationError):
        WebchatSettings.model_validate({"allowed_origins": [origin]})


def test_settings_refuse_unknown_keys() -> None:
    with pytest.raises(ValidationError):
        WebchatSettings.model_validate({"allowed_origin": "https://acme.example"})


# -- the rate limiter ------------------------------------------------------------------------------


def test_token_bucket() -> None:
    now = [0.0]
    buckets = TokenBuckets(capacity=2, rate=0.5, clock=lambda: now[0])
    assert buckets.take("a") is None and buckets.take("a") is None
    wait = buckets.take("a")
    assert wait == pytest.approx(2.0)
    assert buckets.take("b") is None  # other keys have their own bucket
    now[0] += 2.0
    assert buckets.take("a") is None
    assert buckets.take("a") is not None


def test_token_bucket_forgets_the_least_recently_used_keys() -> None:
    buckets = TokenBuckets(capacity=1, rate=0.001, max_keys=3, clock=lambda: 0.0)
    for key in "abcd":
        assert buckets.take(key) is None
    assert buckets.take("a") is None  # forgotten, so full again
    assert buckets.take("d") is not None
