"""The Mastodon connector against payloads recorded from a real Mastodon API server (one test per
fixture) and a mocked HTTP transport for everything it sends and every failure it handles."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from townsquare.channels.base import DeliveryError, PollResult, RateLimited, ReconnectRequired, secret_fields
from townsquare.channels.mastodon.connector import MastodonConnector, MastodonSettings
from townsquare.channels.mastodon.errors import retry_after_seconds
from townsquare.channels.mastodon.html_text import html_to_text
from townsquare.channels.mastodon.inbound import newer
from townsquare.channels.mastodon.outbound import counted_length, with_mention
from townsquare.model import MAX_TEXT_CHARS, AuthorIdentity, InboundMessage, OutboundReply, Visibility

FIXTURES = Path(__file__).resolve().parents[3] / "src" / "townsquare" / "channels" / "mastodon" / "fixtures"
BASE = "https://social.example"
Handler = Callable[[httpx.Request], httpx.Response]


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def connector(handler: Handler | None = None, **settings: Any) -> MastodonConnector:
    values: dict[str, Any] = {"base_url": BASE, "access_token": "token-1", "handle": "acme", **settings}
    transport = httpx.MockTransport(handler) if handler else None
    return MastodonConnector("acme", MastodonSettings(**values), transport=transport)


def notifications_server(*pages: list[Any]) -> tuple[Handler, list[httpx.Request]]:
    """Serves the given pages of notifications in turn, then empty pages."""
    seen: list[httpx.Request] = []
    remaining = list(pages)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        assert request.url.path == "/api/v1/notifications"
        return httpx.Response(200, json=remaining.pop(0) if remaining else [])

    return handler, seen


def poll_fixture(name: str) -> PollResult:
    handler, _ = notifications_server([fixture(name)])
    return connector(handler).poll(None)


EXPECTED: dict[str, dict[str, Any]] = {
    "notification__mention.json": dict(
        visibility=Visibility.PUBLIC,
        reply=False,
        handle="lena",
        name="Lena Hoffmann",
        language="de",
        text="@acme seit drei Tagen kein Internet in 10115 Berlin 😡\n\nIst das bekannt?",
    ),
    "notification__reply.json": dict(
        visibility=Visibility.PUBLIC,
        reply=True,
        handle="lena",
        name="Lena Hoffmann",
        language="de",
        text="@acme geht immer noch nicht",
    ),
    "notification__direct.json": dict(
        visibility=Visibility.PRIVATE,
        reply=False,
        handle="lena",
        name="Lena Hoffmann",
        language="de",
        text="@acme Meine Kundennummer ist 4711-2233",
    ),
    "notification__hostile_html.json": dict(
        visibility=Visibility.PUBLIC,
        reply=False,
        handle="mallory",
        name='<img src=x onerror="alert(1)">Mallory</b>',
        language="en",
        # Entities unescaped, markup the customer typed kept as text, links in full.
        text='@acme <script>alert("x")</script> & <b>bold</b> really https://example.com/a/very/long/path?q=1&r=2',
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_into_the_normalized_message(name: str) -> None:
    document = fixture(name)
    expected = EXPECTED[name]
    result = poll_fixture(name)
    [message] = result.messages
    status = document["status"]
    assert result.cursor == document["id"]  # the cursor is the notification id
    assert message.channel == "mastodon" and message.account == "acme"
    assert message.external_id == status["id"]
    assert message.in_reply_to == (status["in_reply_to_id"] if expected["reply"] else None)
    assert (message.in_reply_to is not None) is expected["reply"]
    assert message.visibility == expected["visibility"]
    assert message.author.external_id == status["account"]["id"]
    assert message.author.handle == expected["handle"]
    assert message.author.display_name == expected["name"]
    assert message.author.reach == status["account"]["followers_count"]
    assert message.author.url == status["account"]["url"]
    assert message.language == expected["language"]
    assert message.text == expected["text"]
    assert message.url == status["url"]
    assert message.created_at == datetime.fromisoformat(status["created_at"])
    assert message.raw == document


def test_other_notification_types_are_ignored_but_move_the_cursor() -> None:
    result = poll_fixture("notification__favourite.json")
    assert result.messages == []
    assert result.cursor == fixture("notification__favourite.json")["id"]


def test_malformed_notification_is_skipped_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    good = fixture("notification__direct.json")
    broken = fixture("notification__malformed.json")
    handler, _ = notifications_server([good, broken])  # newest first, as Mastodon sends them
    with caplog.at_level(logging.WARNING):
        result = connector(handler).poll(None)
    assert [m.external_id for m in result.messages] == [good["status"]["id"]]
    assert result.cursor == newer(good["id"], broken["id"])
    assert "skipped malformed mention" in caplog.text
    assert "Meine Kundennummer" not in caplog.text  # no payloads in logs


def test_garbage_in_a_page_is_skipped_and_the_rest_is_kept(caplog: pytest.LogCaptureFixture) -> None:
    good = fixture("notification__mention.json")
    handler, _ = notifications_server([good, "a string", 17, {"id": "", "type": "mention"}, {"type": "mention"}])
    with caplog.at_level(logging.WARNING):
        result = connector(handler).poll(None)
    assert [m.external_id for m in result.messages] == [good["status"]["id"]]
    assert result.cursor == good["id"]


def test_own_statuses_are_not_ingested() -> None:
    document = fixture("notification__mention.json")
    document["status"]["account"]["acct"] = "ACME"
    handler, _ = notifications_server([document])
    assert connector(handler).poll(None).messages == []
    assert connector(handler, handle="@acme@social.example").poll(None).messages == []


def test_huge_text_is_cut_to_the_models_limit() -> None:
    document = fixture("notification__mention.json")
    document["status"]["content"] = "<p>" + "x" * (MAX_TEXT_CHARS + 5000) + "</p>"
    document["account"]["display_name"] = document["status"]["account"]["display_name"] = "n" * 5000
    handler, _ = notifications_server([document])
    [message] = connector(handler).poll(None).messages
    assert len(message.text) == MAX_TEXT_CHARS and message.text.endswith("[…]")
    assert len(message.author.display_name) == 512


def test_content_warning_is_kept_in_front_of_the_text() -> None:
    document = fixture("notification__mention.json")
    document["status"]["spoiler_text"] = "Netzausfall"
    handler, _ = notifications_server([document])
    [message] = connector(handler).poll(None).messages
    assert message.text.startswith("CW: Netzausfall\n\n@acme seit drei Tagen")


def test_poll_pages_forward_from_the_cursor_with_min_id() -> None:
    first, second, third = (fixture(f"notification__{n}.json") for n in ("mention", "reply", "direct"))
    first["id"], second["id"], third["id"] = "999", "1002", "1003"
    handler, seen = notifications_server([second, first], [third])  # each page newest first
    result = connector(handler).poll("998")
    assert [m.external_id for m in result.messages] == [x["status"]["id"] for x in (first, second, third)]
    assert result.cursor == "1003"  # compared as numbers: "999" < "1002"
    assert [r.url.params.get("min_id") for r in seen] == ["998", "1002", "1003"]
    assert all(r.url.params.get_list("types[]") == ["mention"] for r in seen)
    assert seen[0].headers["authorization"] == "Bearer token-1"


def test_first_poll_reads_only_the_newest_page() -> None:
    handler, seen = notifications_server([fixture("notification__mention.json")])
    result = connector(handler).poll(None)
    assert len(seen) == 1 and "min_id" not in seen[0].url.params
    assert result.cursor == fixture("notification__mention.json")["id"]


def test_poll_with_nothing_new_keeps_the_cursor() -> None:
    handler, _ = notifications_server()
    assert connector(handler).poll("42") == PollResult([], "42")


@pytest.mark.parametrize(
    ("status", "error"), [(401, ReconnectRequired), (403, ReconnectRequired), (502, DeliveryError)]
)
def test_poll_failures_reach_the_listener(status: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        connector(lambda _r: httpx.Response(status, json={"error": "The access token is invalid"})).poll("1")


def test_poll_that_is_rate_limited_pauses_without_failing() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(429, headers={"Retry-After": "120"})

    mastodon = connector(handler)
    assert mastodon.poll("7") == PollResult([], "7")
    assert mastodon.poll("7") == PollResult([], "7")
    assert len(calls) == 1  # the second poll waited instead of asking again


def test_unreadable_page_is_a_retryable_error() -> None:
    with pytest.raises(DeliveryError) as raised:
        connector(lambda _r: httpx.Response(200, content=b"{not json")).poll("1")
    assert raised.value.retryable


# -- streaming -------------------------------------------------------------------------------


def streaming_server(sse: bytes, *, stream_status: int = 200) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/api/v1/streaming/user":
            if stream_status != 200:
                return httpx.Response(stream_status, json={"error": "nope"})
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse)
        if request.url.path == "/api/v2/notifications/policy":
            return httpx.Response(200, json={"for_private_mentions": "accept"})
        return httpx.Response(200, json=[])

    return handler, seen


def collect(mastodon: MastodonConnector, cursor: str | None, limit: float = 5.0) -> list[PollResult]:
    stop = threading.Event()
    timer = threading.Timer(limit, stop.set)
    timer.start()
    try:
        return list(mastodon.stream(cursor, stop))
    finally:
        timer.cancel()


def test_stream_recorded_from_the_server_yields_each_mention() -> None:
    sse = (FIXTURES / "stream__user.sse").read_bytes()
    handler, seen = streaming_server(sse)
    results = collect(connector(handler), "1")
    messages: list[InboundMessage] = [m for r in results for m in r.messages]
    texts = [m.text for m in messages]
    assert len(messages) == 5  # the favourite notification and the timeline update are ignored
    assert texts[0].startswith("@acme seit drei Tagen") and texts[-1] == "@acme last one, ends the capture"
    assert [m.visibility for m in messages].count(Visibility.PRIVATE) == 1
    ids = [json.loads(line[6:])["id"] for line in sse.decode().splitlines() if line.startswith("data: {")]
    assert results[-1].cursor == max(ids, key=int)
    paths = [r.url.path for r in seen]
    # The catch-up runs after the stream is open, so nothing between poll and connect is lost.
    assert paths.index("/api/v1/streaming/user") < paths.index("/api/v1/notifications")


def test_stream_skips_broken_and_unknown_events(caplog: pytest.LogCaptureFixture) -> None:
    good = json.dumps(fixture("notification__mention.json"))
    broken = json.dumps(fixture("notification__malformed.json"))
    sse = (
        f":connected\n\nevent: notification\ndata: {{oops\n\nevent: notification\ndata: {broken}\n\n"
        f"event: shiny.new\ndata: {{}}\n\nevent: delete\ndata: 123\n\n:thump\n\n"
        f"event: notification\ndata: {good}\n\n"
    ).encode()
    handler, _ = streaming_server(sse)
    with caplog.at_level(logging.INFO):
        results = collect(connector(handler), "1")
    assert [m.external_id for r in results for m in r.messages] == [
        fixture("notification__mention.json")["status"]["id"]
    ]
    assert "not JSON" in caplog.text and "skipped malformed mention" in caplog.text
    assert "ignored stream event 'shiny.new'" in caplog.text


def test_stream_refused_for_a_bad_token_needs_a_reconnect() -> None:
    handler, _ = streaming_server(b"", stream_status=401)
    with pytest.raises(ReconnectRequired):
        collect(connector(handler), "1")


def test_stream_not_offered_falls_back_to_polling() -> None:
    mention = fixture("notification__mention.json")
    served: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        served.append(request.url.path)
        if request.url.path == "/api/v1/streaming/user":
            return httpx.Response(404, json={"error": "Streaming is not enabled"})
        return httpx.Response(200, json=[mention] if served.count("/api/v1/notifications") == 1 else [])

    results = collect(connector(handler), "1", limit=1.0)
    assert [m.external_id for r in results for m in r.messages] == [mention["status"]["id"]]


def test_streaming_off_polls_at_the_configured_pace() -> None:
    handler, seen = notifications_server([fixture("notification__mention.json")])
    results = collect(connector(handler, stream=False, poll_seconds=1.0), "1", limit=1.5)
    assert len([m for r in results for m in r.messages]) == 1
    assert {r.url.path for r in seen} == {"/api/v1/notifications"}


def test_stream_stops_promptly_on_a_quiet_connection() -> None:
    class Quiet(httpx.SyncByteStream):
        def __init__(self) -> None:
            self.closed = threading.Event()

        def __iter__(self):  # type: ignore[no-untyped-def]
            yield b":connected\n\n"
            self.closed.wait(10)

        def close(self) -> None:
            self.closed.set()

    quiet = Quiet()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/streaming/user":
            return httpx.Response(200, stream=quiet)
        return httpx.Response(200, json=[])

    started = datetime.now(UTC)
    collect(connector(handler), "1", limit=0.5)
    assert datetime.now(UTC) - started < timedelta(seconds=2)
    quiet.close()


# -- sending ---------------------------------------------------------------------------------


def reply(visibility: Visibility, text: str = "Wir kümmern uns!", handle: str = "lena") -> OutboundReply:
    return OutboundReply(
        reply_id="r-123",
        account="acme",
        text=text,
        visibility=visibility,
        recipient=AuthorIdentity(external_id="1795973743046", handle=handle),
        in_reply_to="1795973743048",
        conversation_id="c1",
    )


def sending_server() -> tuple[Handler, list[httpx.Request]]:
    sent: list[httpx.Request] = []
    created = fixture("status__created.json")

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path.startswith("/api/v1/accounts/"):
            return httpx.Response(200, json=fixture("notification__mention.json")["account"])
        return httpx.Response(200, json=created)

    return handler, sent


def test_public_reply_is_threaded_and_mentions_the_customer() -> None:
    handler, sent = sending_server()
    receipt = connector(handler).send(reply(Visibility.PUBLIC))
    created = fixture("status__created.json")
    assert receipt.external_id == created["id"] and receipt.url == created["url"]
    assert receipt.created_at == datetime.fromisoformat(created["created_at"])
    [request] = sent
    assert request.method == "POST" and str(request.url) == f"{BASE}/api/v1/statuses"
    assert json.loads(request.content) == {
        "status": "@lena Wir kümmern uns!",
        "visibility": "public",
        "in_reply_to_id": "1795973743048",
    }
    assert request.headers["idempotency-key"] == "r-123"
    assert request.headers["authorization"] == "Bearer token-1"


def test_private_reply_is_a_direct_status_and_unlisted_is_configurable() -> None:
    handler, sent = sending_server()
    connector(handler, reply_visibility="unlisted").send(reply(Visibility.PRIVATE))
    connector(handler, reply_visibility="unlisted").send(reply(Visibility.PUBLIC, handle="lena@other.example"))
    private, public = (json.loads(r.content) for r in sent)
    assert private["visibility"] == "direct" and private["status"] == "@lena Wir kümmern uns!"
    assert public["visibility"] == "unlisted" and public["status"] == "@lena@other.example Wir kümmern uns!"


def test_mention_is_not_doubled_and_found_by_id_when_the_handle_is_unknown() -> None:
    handler, sent = sending_server()
    connector(handler).send(reply(Visibility.PUBLIC, text="Hallo @Lena, wir prüfen das."))
    connector(handler).send(reply(Visibility.PUBLIC, handle=""))
    assert json.loads(sent[0].content)["status"] == "Hallo @Lena, wir prüfen das."
    assert sent[1].url.path == "/api/v1/accounts/1795973743046"
    assert json.loads(sent[2].content)["status"] == "@lena Wir kümmern uns!"


def test_too_long_replies_are_refused_before_sending() -> None:
    handler, sent = sending_server()
    with pytest.raises(DeliveryError) as raised:
        connector(handler).send(reply(Visibility.PUBLIC, text="x" * 495))
    assert not raised.value.retryable and sent == []
    connector(handler, max_characters=1000).send(reply(Visibility.PUBLIC, text="x" * 495))
    # Links count as 23 characters, remote mentions by their user part, as Mastodon counts them.
    assert counted_length("@lena@very.long.example.org see https://example.com/" + "p" * 300) == len("@lena see ") + 23


@pytest.mark.parametrize(
    ("response", "error", "retryable", "retry_after"),
    [
        (httpx.Response(429, headers={"Retry-After": "30"}), RateLimited, True, 30.0),
        (httpx.Response(401, json={"error": "The access token was revoked"}), ReconnectRequired, False, None),
        (
            httpx.Response(403, json={"error": "This action is outside the authorized scopes"}),
            ReconnectRequired,
            False,
            None,
        ),
        (httpx.Response(503, headers={"Retry-After": "5"}), DeliveryError, True, 5.0),
        (httpx.Response(422, json={"error": "Validation failed: Text is too long"}), DeliveryError, False, None),
        (httpx.Response(404, json={"error": "Record not found"}), DeliveryError, False, None),
    ],
)
def test_network_failures_map_to_delivery_errors(
    response: httpx.Response, error: type[DeliveryError], retryable: bool, retry_after: float | None
) -> None:
    with pytest.raises(error) as raised:
        connector(lambda _request: response).send(reply(Visibility.PUBLIC))
    assert raised.value.retryable is retryable
    assert raised.value.retry_after == retry_after


def test_rate_limit_reset_time_gives_the_seconds_to_wait() -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    iso = httpx.Response(429, headers={"X-RateLimit-Reset": "2026-11-29T12:04:30.000Z", "Retry-After": "1"})
    assert retry_after_seconds(iso, now) == 270.0
    epoch = httpx.Response(429, headers={"X-RateLimit-Reset": str(now.timestamp() + 60)})
    assert retry_after_seconds(epoch, now) == 60.0
    assert retry_after_seconds(httpx.Response(429, headers={"X-RateLimit-Reset": "soon"}), now) is None
    with pytest.raises(RateLimited) as raised:
        connector(lambda _r: httpx.Response(429)).send(reply(Visibility.PUBLIC))
    assert raised.value.retry_after == 300.0  # Mastodon's window when nothing says otherwise


@pytest.mark.parametrize("failure", [httpx.ReadTimeout("slow"), httpx.ConnectError("refused")])
def test_timeouts_and_unreachable_servers_are_retryable(failure: httpx.HTTPError) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    with pytest.raises(DeliveryError) as raised:
        connector(handler).send(reply(Visibility.PUBLIC))
    assert raised.value.retryable and not isinstance(raised.value, RateLimited | ReconnectRequired)


def test_unreadable_answer_after_posting_is_retryable() -> None:
    with pytest.raises(DeliveryError) as raised:
        connector(lambda _r: httpx.Response(200, json={"no": "id"})).send(reply(Visibility.PUBLIC))
    assert raised.value.retryable  # the retry carries the same Idempotency-Key: no double post


# -- pieces ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>one<br>two<br/>three</p><p>next</p>", "one\ntwo\nthree\n\nnext"),
        ("<p>a &amp; b &lt;i&gt; &#128512; &nbsp;c</p>", "a & b <i> 😀 \xa0c"),
        (
            '<p><span class="h-card"><a href="https://x/@lena" class="u-url mention">@<span>lena</span></a></span> hi</p>',
            "@lena hi",
        ),
        (
            '<p><a href="https://example.com/long/path"><span class="invisible">https://</span>'
            '<span class="ellipsis">example.com/lo</span><span class="invisible">ng/path</span></a></p>',
            "https://example.com/long/path",
        ),
        ("<p>x<script>alert(1)</script><style>p{}</style>y</p>", "xy"),
        ("<p>unclosed <b>bold <i>and <a href='#'>broken", "unclosed bold and broken"),
        ("<p>  spaced\n   out  </p>", "spaced out"),
        ("plain text, no markup", "plain text, no markup"),
        ("", ""),
    ],
)
def test_html_content_becomes_plain_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_mentions_and_ids() -> None:
    assert with_mention(" hi ", "lena") == "@lena hi"
    assert with_mention("@lena hi", "@lena") == "@lena hi"
    assert with_mention("@lenab hi", "lena") == "@lena @lenab hi"
    assert newer("999", "1000") == "1000" and newer(None, "5") == "5" and newer("01HZZ", "01HAA") == "01HZZ"


def test_settings_are_declared_with_the_token_secret() -> None:
    assert secret_fields(MastodonSettings) == {"access_token"}
    settings = MastodonSettings(base_url=" https://social.example/ ", access_token="s3cr3t-token", handle="acme")
    assert settings.base_url == "https://social.example" and "s3cr3t" not in repr(settings)
    for bad in ("social.example", "ftp://social.example", ""):
        with pytest.raises(ValueError):
            MastodonSettings(base_url=bad, access_token="t", handle="acme")
    with pytest.raises(ValueError):
        MastodonSettings(base_url=BASE, access_token="t", handle="acme", reply_visibility="direct")


def test_every_fixture_has_a_test() -> None:
    covered = set(EXPECTED) | {
        "notification__favourite.json",
        "notification__malformed.json",
        "status__created.json",
        "stream__user.sse",
    }
    assert {path.name for path in FIXTURES.iterdir()} == covered


def test_a_reset_time_already_past_means_retry_now() -> None:
    past = httpx.Response(429, headers={"X-RateLimit-Reset": "2020-01-01T00:00:00Z"})
    with pytest.raises(RateLimited) as raised:
        connector(lambda _r: past).send(reply(Visibility.PUBLIC))
    assert raised.value.retry_after == 0.0


def test_a_revoked_token_during_the_catch_up_ends_the_stream_for_a_reconnect() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/streaming/user":
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=b":connected\n\n")
        return httpx.Response(401, json={"error": "The access token was revoked"})

    with pytest.raises(ReconnectRequired):
        collect(connector(handler), "1")
