"""The demo connector against recorded payloads of the demo network (one test per fixture) and a
mocked HTTP transport for sending."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from townsquare.channels.base import BadPayload, DeliveryError, InvalidSignature, RateLimited, ReconnectRequired
from townsquare.channels.demo.connector import DemoConnector, DemoSettings
from townsquare.channels.demo.payloads import SIGNATURE_HEADER
from townsquare.model import AuthorIdentity, OutboundReply, Visibility
from townsquare.security.signatures import sign

FIXTURES = Path(__file__).resolve().parents[3] / "src" / "townsquare" / "channels" / "demo" / "fixtures"
SECRET = "webhook-secret"


def connector(transport: httpx.BaseTransport | None = None) -> DemoConnector:
    settings = DemoSettings(
        base_url="http://demo.test/demo-network", handle="acme", api_key="key", webhook_secret=SECRET
    )
    return DemoConnector("acme", settings, transport=transport)


def deliver(name: str, *, secret: str = SECRET) -> list:  # type: ignore[type-arg]
    body = (FIXTURES / name).read_bytes()
    return connector().parse_webhook({SIGNATURE_HEADER: sign(secret, body)}, body)


EXPECTED = {
    "post__public_mention.json": dict(
        external_id="p17-a1b2c3",
        visibility=Visibility.PUBLIC,
        in_reply_to=None,
        handle="lena.hoffmann",
        reach=640,
        language="de",
    ),
    "post__reply.json": dict(
        external_id="p23-ffe012",
        visibility=Visibility.PUBLIC,
        in_reply_to="p21-0d9e8f",
        handle="lena.hoffmann",
        reach=640,
        language="de",
    ),
    "post__direct_message.json": dict(
        external_id="p31-7a7a7a",
        visibility=Visibility.PRIVATE,
        in_reply_to=None,
        handle="benmiller",
        reach=1200,
        language="en",
    ),
    "post__hostile_html.json": dict(
        external_id="p40-b4d0c0",
        visibility=Visibility.PUBLIC,
        in_reply_to=None,
        handle="<b>mallory</b>",
        reach=5,
        language="en",
    ),
}


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_fixture_parses_into_the_normalized_message(fixture: str) -> None:
    [message] = deliver(fixture)
    expected = EXPECTED[fixture]
    document = json.loads((FIXTURES / fixture).read_text())
    assert message.channel == "demo" and message.account == "acme"
    assert message.external_id == expected["external_id"]
    assert message.visibility == expected["visibility"]
    assert message.in_reply_to == expected["in_reply_to"]
    assert message.author.handle == expected["handle"]
    assert message.author.reach == expected["reach"]
    assert message.language == expected["language"]
    assert message.text == document["post"]["text"]  # kept as written, HTML included
    assert message.raw == document


def test_every_fixture_has_a_test() -> None:
    covered = set(EXPECTED) | {"post__own_reply.json", "event__unknown_type.json", "post__missing_author.json"}
    assert {path.name for path in FIXTURES.glob("*.json")} == covered


def test_own_replies_and_unknown_events_are_acknowledged_and_ignored() -> None:
    assert deliver("post__own_reply.json") == []
    assert deliver("event__unknown_type.json") == []


def test_invalid_payloads_are_refused_with_a_reason() -> None:
    with pytest.raises(BadPayload):
        deliver("post__missing_author.json")
    for body in (b"{not json", b"[]", b'"string"', b'{"no_event": 1}'):
        with pytest.raises(BadPayload):
            connector().parse_webhook({SIGNATURE_HEADER: sign(SECRET, body)}, body)
    huge = json.loads((FIXTURES / "post__public_mention.json").read_text())
    huge["post"]["text"] = "x" * 20_000
    body = json.dumps(huge).encode()
    with pytest.raises(BadPayload):
        connector().parse_webhook({SIGNATURE_HEADER: sign(SECRET, body)}, body)


def test_forged_or_missing_signatures_are_refused() -> None:
    body = (FIXTURES / "post__public_mention.json").read_bytes()
    for headers in (
        {},
        {SIGNATURE_HEADER: ""},
        {SIGNATURE_HEADER: sign("other-secret", body)},
        {SIGNATURE_HEADER: sign(SECRET, body + b" ")},
    ):
        with pytest.raises(InvalidSignature):
            connector().parse_webhook(headers, body)


def reply(visibility: Visibility) -> OutboundReply:
    return OutboundReply(
        reply_id="r1",
        account="acme",
        text="Wir kümmern uns!",
        visibility=visibility,
        recipient=AuthorIdentity(external_id="u-lena", handle="lena.hoffmann"),
        in_reply_to="p17-a1b2c3",
        thread_root="p17-a1b2c3",
        conversation_id="c1",
    )


def test_public_reply_is_threaded_and_private_goes_to_the_person() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(201, json={"id": f"p{len(sent)}", "url": "http://demo.test/p"})

    demo = connector(httpx.MockTransport(handler))
    assert demo.send(reply(Visibility.PUBLIC)).external_id == "p1"
    assert demo.send(reply(Visibility.PRIVATE)).external_id == "p2"
    public, private = (json.loads(request.content) for request in sent)
    assert public == {
        "text": "Wir kümmern uns!",
        "visibility": "public",
        "in_reply_to": "p17-a1b2c3",
        "recipient": None,
    }
    assert private == {
        "text": "Wir kümmern uns!",
        "visibility": "direct",
        "in_reply_to": None,
        "recipient": "lena.hoffmann",
    }
    assert sent[0].headers["authorization"] == "Bearer key"
    assert sent[0].headers["idempotency-key"] == "r1"
    assert str(sent[0].url) == "http://demo.test/demo-network/api/posts"


@pytest.mark.parametrize(
    ("response", "error", "retryable", "retry_after"),
    [
        (httpx.Response(429, headers={"Retry-After": "30"}), RateLimited, True, 30.0),
        (httpx.Response(401), ReconnectRequired, False, None),
        (httpx.Response(503, headers={"Retry-After": "5"}), DeliveryError, True, 5.0),
        (httpx.Response(422, json={"detail": "no such post"}), DeliveryError, False, None),
    ],
)
def test_network_failures_map_to_delivery_errors(
    response: httpx.Response, error: type[DeliveryError], retryable: bool, retry_after: float | None
) -> None:
    demo = connector(httpx.MockTransport(lambda _request: response))
    with pytest.raises(error) as raised:
        demo.send(reply(Visibility.PUBLIC))
    assert raised.value.retryable is retryable
    assert raised.value.retry_after == retry_after


def test_timeouts_are_retryable() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(DeliveryError) as raised:
        connector(httpx.MockTransport(slow)).send(reply(Visibility.PUBLIC))
    assert raised.value.retryable
