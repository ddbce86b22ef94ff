"""The Matrix connector against `/sync` answers recorded from a real Synapse (one test per
fixture) and a scripted homeserver on httpx.MockTransport for joins, sends and failures."""

from __future__ import annotations

import logging
import threading
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from tests.channels.matrix.fakes import (
    BOT,
    FIXTURES,
    FakeHomeserver,
    body_of,
    connector,
    fixture,
    json_response,
)
from townsquare.channels.base import DeliveryError, RateLimited, ReconnectRequired
from townsquare.channels.matrix.connector import MatrixSettings
from townsquare.channels.matrix.events import strip_reply_fallback
from townsquare.channels.matrix.ids import EventRef, NotAMatrixId
from townsquare.channels.matrix.payloads import SyncResponse
from townsquare.model import MAX_TEXT_CHARS, AuthorIdentity, InboundMessage, OutboundReply, Visibility

PUBLIC_ROOM = "!6_34mSG47_oAsrL57hOomX4XOCvptA5cagCpRhjENpU"
DIRECT_ROOM = "!pyCm7lYLLw1xN-n6E6yTADqkgJJcBMGHUr7oosxWH4k"
SMALL_ROOM = "!baDQ2dic2wrFJwBaKr9tPQUSX9JvoHpdY9_Mtx_cFZg"
LENA_POST = "$5dWO2scyFe3AGfBW-mm-0O1TRyO_e-seUoQ5s_GGFzw"
OUR_REPLY = "$1VRQzJ54Mm-qbTqo0d-MW9d2NTj5NOiLmO_zlPbPyCU"


def parse(name: str, **settings: Any) -> tuple[list[InboundMessage], FakeHomeserver]:
    server = FakeHomeserver()
    matrix = connector(server, **settings)
    sync = SyncResponse.model_validate(fixture(name))
    return matrix.process_sync(sync, since=None), server


EXPECTED: dict[str, dict[str, Any]] = {
    "sync__public_message.json": dict(
        room=PUBLIC_ROOM,
        event=LENA_POST,
        sender="@lena:localhost",
        name="Lena Hoffmann",
        text="@acme seit drei Tagen kein Internet und niemand meldet sich. Unfassbar.",
        visibility=Visibility.PUBLIC,
        in_reply_to=None,
        thread_root=None,
    ),
    "sync__reply.json": dict(
        room=PUBLIC_ROOM,
        event="$FOryeDxFT5jEsUMYKRo2NXDj7y304xSrRPbw9VSoJOo",
        sender="@lena:localhost",
        name="Lena Hoffmann",
        text="Geht immer noch nicht.",  # the quoted fallback is stripped
        visibility=Visibility.PUBLIC,
        in_reply_to=f"{PUBLIC_ROOM}/{OUR_REPLY}",
        thread_root=None,
    ),
    "sync__thread_reply.json": dict(
        room=PUBLIC_ROOM,
        event="$Nai9vfjAsLdBQXsZ6irzgJj1wA7mzY_A1Fe-NzGciv4",
        sender="@ben:localhost",
        name="Ben Miller",
        text="Bei mir auch, Kabel in Köln-Ehrenfeld.",
        visibility=Visibility.PUBLIC,
        in_reply_to=f"{PUBLIC_ROOM}/{LENA_POST}",
        thread_root=f"{PUBLIC_ROOM}/{LENA_POST}",
    ),
    "sync__hostile_html.json": dict(
        room=PUBLIC_ROOM,
        event="$l64GIbmDKr5PZkFaNqhamZMpBsDJc5Bp9IlXn2KSs1I",
        sender="@mallory:localhost",
        name="<script>alert('x')</script> Mallory",  # stored as is: the web app escapes
        text="<img src=x onerror=alert(1)> @acme your login page shows this: <script>steal()</script>",
        visibility=Visibility.PUBLIC,
        in_reply_to=None,
        thread_root=None,
    ),
    "sync__image_message.json": dict(
        room=PUBLIC_ROOM,
        event="$Ng38ubY2dgg5RU_x2REcEtaLVXFvBAQLeBaIc83ixZo",
        sender="@lena:localhost",
        name="Lena Hoffmann",
        text="[image: fehler.png]",
        visibility=Visibility.PUBLIC,
        in_reply_to=None,
        thread_root=None,
    ),
    "sync__edit.json": dict(
        room=PUBLIC_ROOM,
        event="$Na43wecxoFSz2es68FzTfoaYCYvJv4SSEEqcQWr0az8",
        sender="@lena:localhost",
        name="Lena Hoffmann",
        text="@acme seit vier Tagen kein Internet.",  # the new text, without the "* " fallback
        visibility=Visibility.PUBLIC,
        in_reply_to=f"{PUBLIC_ROOM}/{LENA_POST}",
        thread_root=None,
    ),
    "sync__direct_message.json": dict(
        room=DIRECT_ROOM,
        event="$SOeYE1OW0msZkLH1iiAbye1qhtLTCrrRDbAV6KbjUgQ",
        sender="@ben:localhost",
        name="Ben Miller",
        text="I was charged twice for my new phone. Order 7788123. Please check.",
        visibility=Visibility.PRIVATE,
        in_reply_to=None,
        thread_root=None,
    ),
    "sync__two_member_room.json": dict(
        room=SMALL_ROOM,
        event="$ERp8BA0nzShDiQqbvp7EUdt7LZs2049f6fYXx2tTHQE",
        sender="@lena:localhost",
        name="Lena Hoffmann",
        text="Meine Kundennummer ist 4711-2233.",
        visibility=Visibility.PRIVATE,
        in_reply_to=None,
        thread_root=None,
    ),
}
IGNORED = {
    "sync__own_reply.json",
    "sync__unknown_event_type.json",
    "sync__malformed_relation.json",
    "sync__invite_direct.json",
}
ERRORS = {"error__unknown_token.json", "error__rate_limited.json"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_into_the_normalized_message(name: str) -> None:
    [message], _server = parse(name)
    expected = EXPECTED[name]
    [raw] = next(iter(fixture(name)["rooms"]["join"].values()))["timeline"]["events"]
    assert message.channel == "matrix" and message.account == "acme"
    assert message.external_id == f"{expected['room']}/{expected['event']}"
    assert message.author.external_id == message.author.handle == expected["sender"]
    assert message.author.display_name == expected["name"]
    assert message.text == expected["text"]
    assert message.visibility == expected["visibility"]
    assert message.in_reply_to == expected["in_reply_to"]
    assert message.thread_root == expected["thread_root"]
    assert message.created_at.timestamp() == raw["origin_server_ts"] / 1000
    assert message.url == f"https://matrix.to/#/{expected['room']}/{expected['event']}"
    assert message.raw == {"room_id": expected["room"], **raw}


def test_every_fixture_has_a_test() -> None:
    assert {path.name for path in FIXTURES.glob("*.json")} == set(EXPECTED) | IGNORED | ERRORS


def test_own_events_unknown_types_and_malformed_events_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="townsquare.channels.matrix")
    assert parse("sync__own_reply.json")[0] == []
    assert parse("sync__unknown_event_type.json")[0] == []
    assert "ignoring com.example.order event" in caplog.text
    assert parse("sync__malformed_relation.json")[0] == []
    assert "skipping malformed message $GBcw4XM2iJaOHJI4aJYsqNaq_obb4b58LrV2jd7Zq1A" in caplog.text
    assert "reply to what?" not in caplog.text  # content is never logged


def test_a_broken_event_does_not_stop_the_others_in_its_batch(caplog: pytest.LogCaptureFixture) -> None:
    document = fixture("sync__public_message.json")
    timeline = document["rooms"]["join"][PUBLIC_ROOM]["timeline"]["events"]
    good = timeline[0]
    timeline[:] = [
        {"type": "m.room.message", "content": {"body": 1}},  # no id, no sender
        "not an object",
        {**good, "content": {"msgtype": "m.text", "body": ["list"]}, "event_id": "$bad"},
        {**good, "event_id": "$x" * 300},  # an id longer than the spec allows
        good,
        {**good, "event_id": "$huge", "content": {"msgtype": "m.text", "body": "x" * (MAX_TEXT_CHARS + 50)}},
    ]
    with pytest.raises(ValidationError):
        SyncResponse.model_validate(document)  # a non-object event fails the envelope...
    timeline.remove("not an object")  # ...so the test keeps to events that parse as objects
    messages = connector(FakeHomeserver()).process_sync(SyncResponse.model_validate(document), since=None)
    assert [m.external_id.partition("/")[2] for m in messages] == [good["event_id"], "$huge"]
    assert len(messages[1].text) == MAX_TEXT_CHARS and messages[1].text.endswith("[…]")
    assert caplog.text.count("skipping") == 3


def test_invites_are_accepted_and_direct_chats_recorded() -> None:
    messages, server = parse("sync__invite_direct.json")
    assert messages == []
    [join] = server.sent("POST", f"/_matrix/client/v3/join/{DIRECT_ROOM}")
    [direct] = server.sent("PUT", f"/_matrix/client/v3/user/{BOT}/account_data/m.direct")
    assert body_of(direct) == {"@ben:localhost": [DIRECT_ROOM]}
    assert join.headers["authorization"] == "Bearer token"


@pytest.mark.parametrize(("mode", "joins"), [("all", 1), ("direct", 1), ("none", 0)])
def test_auto_join_setting(mode: str, joins: int) -> None:
    _messages, server = parse("sync__invite_direct.json", auto_join=mode)
    assert len(server.sent("POST", "/_matrix/client/v3/join/")) == joins
    document = fixture("sync__invite_direct.json")
    for event in document["rooms"]["invite"][DIRECT_ROOM]["invite_state"]["events"]:
        event["content"].pop("is_direct", None)
    server = FakeHomeserver()
    connector(server, auto_join=mode).process_sync(SyncResponse.model_validate(document), since=None)
    assert len(server.sent("POST", "/_matrix/client/v3/join/")) == (1 if mode == "all" else 0)


def test_rooms_first_seen_after_a_restart_are_looked_up() -> None:
    server = FakeHomeserver().on(
        "GET",
        f"/_matrix/client/v3/rooms/{SMALL_ROOM}/joined_members",
        json_response(200, {"joined": {BOT: {}, "@lena:localhost": {"display_name": "Lena H."}}}),
    )
    document = fixture("sync__two_member_room.json")
    document["rooms"]["join"][SMALL_ROOM]["state"]["events"] = []  # an incremental sync: no state
    document["rooms"]["join"][SMALL_ROOM]["timeline"]["limited"] = False
    [message] = connector(server).process_sync(SyncResponse.model_validate(document), since="s1")
    assert message.visibility == Visibility.PRIVATE and message.author.display_name == "Lena H."


def test_a_cut_timeline_is_filled_from_room_history() -> None:
    document = fixture("sync__public_message.json")
    room = document["rooms"]["join"][PUBLIC_ROOM]
    [newest] = room["timeline"]["events"]
    older = [{**newest, "event_id": f"$old{i}", "content": {"msgtype": "m.text", "body": f"old {i}"}} for i in range(3)]
    pages = {"p0": (list(reversed(older[1:])), "p1"), "p1": ([older[0]], "p2"), "p2": ([], None)}

    def history(request: httpx.Request) -> httpx.Response:
        assert request.url.params["to"] == "s-since" and request.url.params["dir"] == "b"
        chunk, end = pages[request.url.params["from"]]
        return json_response(200, {"chunk": chunk, "start": request.url.params["from"], "end": end})

    server = FakeHomeserver().on("GET", f"/_matrix/client/v3/rooms/{PUBLIC_ROOM}/messages", history)
    server.on("GET", f"/_matrix/client/v3/rooms/{PUBLIC_ROOM}/joined_members", json_response(200, {"joined": {}}))
    room["timeline"]["prev_batch"] = "p0"
    messages = connector(server).process_sync(SyncResponse.model_validate(document), since="s-since")
    assert [m.text for m in messages] == ["old 0", "old 1", "old 2", newest["content"]["body"]]


def test_reply_fallback_stripping() -> None:
    assert strip_reply_fallback("> <@a:b> hi\n> there\n\nanswer\n> kept") == "answer\n> kept"
    assert strip_reply_fallback("no quote") == "no quote"
    assert strip_reply_fallback("> only quote") == ""


def test_event_references() -> None:
    ref = EventRef.parse("!room:example.org/$abc/def+ghi")  # room version 3 event ids may hold "/"
    assert (ref.room_id, ref.event_id) == ("!room:example.org", "$abc/def+ghi")
    for bad in ("$event", "!room", "room/$e", "!room/event"):
        with pytest.raises(NotAMatrixId):
            EventRef.parse(bad)


def test_settings_need_a_token_or_a_password() -> None:
    with pytest.raises(ValidationError):
        MatrixSettings(homeserver="http://x", user_id=BOT)
    with pytest.raises(ValidationError):
        MatrixSettings(homeserver="http://x", user_id="acme", access_token="t")
    assert MatrixSettings(homeserver="http://x", user_id=BOT, password="p").auto_join == "all"
    for value, mode in (("false", "none"), ("true", "all"), ("direct", "direct"), (False, "none")):
        assert MatrixSettings(homeserver="http://x", user_id=BOT, password="p", auto_join=value).auto_join == mode
    with pytest.raises(ValidationError):
        MatrixSettings(homeserver="http://x", user_id=BOT, password="p", auto_join="sometimes")


# Sending


def reply(visibility: Visibility, in_reply_to: str | None = f"{PUBLIC_ROOM}/{LENA_POST}") -> OutboundReply:
    return OutboundReply(
        reply_id="01HREPLY",
        account="acme",
        text="Das tut uns leid! Wir prüfen das.",
        visibility=visibility,
        recipient=AuthorIdentity(external_id="@lena:localhost", handle="@lena:localhost"),
        in_reply_to=in_reply_to,
        thread_root=in_reply_to,
        conversation_id="c1",
    )


def original_event(server: FakeHomeserver, room: str = PUBLIC_ROOM) -> None:
    document = fixture("sync__thread_reply.json")
    [event] = document["rooms"]["join"][PUBLIC_ROOM]["timeline"]["events"]
    server.on("GET", f"/_matrix/client/v3/rooms/{room}/event/{LENA_POST}", json_response(200, event))


def members(server: FakeHomeserver, room: str, *users: str) -> None:
    server.on(
        "GET",
        f"/_matrix/client/v3/rooms/{room}/joined_members",
        json_response(200, {"joined": {user: {"display_name": None} for user in users}}),
    )


def test_public_reply_is_a_threaded_matrix_reply_with_fallback() -> None:
    server = FakeHomeserver()
    server.on("GET", f"/_matrix/client/v3/rooms/{PUBLIC_ROOM}/event/", json_response(200, lena_event()))
    server.on("PUT", f"/_matrix/client/v3/rooms/{PUBLIC_ROOM}/send/", json_response(200, {"event_id": "$sent"}))
    receipt = connector(server).send(reply(Visibility.PUBLIC))
    assert receipt.external_id == f"{PUBLIC_ROOM}/$sent"
    [put] = server.sent("PUT", "/_matrix/client/v3/rooms/")
    assert put.url.path.endswith("/send/m.room.message/01HREPLY")  # the reply id is the txnId
    assert "%21" in put.url.raw_path.decode()  # ids are percent-encoded in paths
    assert body_of(put) == {
        "msgtype": "m.text",
        "body": "> <@lena:localhost> @acme seit drei Tagen kein Internet und niemand meldet sich. Unfassbar.\n\n"
        "Das tut uns leid! Wir prüfen das.",
        "m.relates_to": {"m.in_reply_to": {"event_id": LENA_POST}},
        "m.mentions": {"user_ids": ["@lena:localhost"]},
    }


def lena_event() -> dict[str, Any]:
    [event] = fixture("sync__public_message.json")["rooms"]["join"][PUBLIC_ROOM]["timeline"]["events"]
    return {**event, "room_id": PUBLIC_ROOM}


def test_a_reply_to_a_message_in_a_thread_stays_in_the_thread() -> None:
    [event] = fixture("sync__thread_reply.json")["rooms"]["join"][PUBLIC_ROOM]["timeline"]["events"]
    server = FakeHomeserver()
    server.on("GET", f"/_matrix/client/v3/rooms/{PUBLIC_ROOM}/event/", json_response(200, event))
    server.on("PUT", f"/_matrix/client/v3/rooms/{PUBLIC_ROOM}/send/", json_response(200, {"event_id": "$sent"}))
    connector(server).send(reply(Visibility.PUBLIC, f"{PUBLIC_ROOM}/{event['event_id']}"))
    [put] = server.sent("PUT", "/_matrix/client/v3/rooms/")
    assert body_of(put)["m.relates_to"] == {
        "rel_type": "m.thread",
        "event_id": LENA_POST,
        "is_falling_back": False,
        "m.in_reply_to": {"event_id": event["event_id"]},
    }


def test_private_reply_to_a_public_post_opens_a_direct_chat() -> None:
    server = FakeHomeserver()
    members(server, PUBLIC_ROOM, BOT, "@lena:localhost", "@ben:localhost")
    server.on("POST", "/_matrix/client/v3/createRoom", json_response(200, {"room_id": "!dm:localhost"}))
    server.on("PUT", "/_matrix/client/v3/rooms/!dm:localhost/send/", json_response(200, {"event_id": "$private"}))
    matrix = connector(server)
    receipt = matrix.send(reply(Visibility.PRIVATE))
    assert receipt.external_id == "!dm:localhost/$private"
    [create] = server.sent("POST", "/_matrix/client/v3/createRoom")
    assert body_of(create) == {"preset": "trusted_private_chat", "is_direct": True, "invite": ["@lena:localhost"]}
    [direct] = server.sent("PUT", f"/_matrix/client/v3/user/{BOT}/account_data/m.direct")
    assert body_of(direct) == {"@lena:localhost": ["!dm:localhost"]}
    [put] = server.sent("PUT", "/_matrix/client/v3/rooms/!dm:localhost/send/")
    assert body_of(put) == {
        "msgtype": "m.text",
        "body": "Das tut uns leid! Wir prüfen das.",
        "m.mentions": {"user_ids": ["@lena:localhost"]},
    }
    # The next private reply reuses the chat while both are still in it.
    server.on("GET", f"/_matrix/client/v3/user/{BOT}/account_data/m.direct", json_response(200, body_of(direct)))
    for user in (BOT, "@lena:localhost"):
        server.on(
            "GET",
            f"/_matrix/client/v3/rooms/!dm:localhost/state/m.room.member/{user}",
            json_response(200, {"membership": "join" if user == BOT else "invite"}),
        )
    matrix.send(reply(Visibility.PRIVATE))
    assert len(server.sent("POST", "/_matrix/client/v3/createRoom")) == 1


def test_private_reply_in_a_direct_chat_answers_there() -> None:
    server = FakeHomeserver()
    members(server, DIRECT_ROOM, BOT, "@lena:localhost")
    server.on("GET", f"/_matrix/client/v3/rooms/{DIRECT_ROOM}/event/", json_response(404, {"errcode": "M_NOT_FOUND"}))
    server.on("PUT", f"/_matrix/client/v3/rooms/{DIRECT_ROOM}/send/", json_response(200, {"event_id": "$p"}))
    receipt = connector(server).send(reply(Visibility.PRIVATE, f"{DIRECT_ROOM}/$customer"))
    assert receipt.external_id == f"{DIRECT_ROOM}/$p"
    [put] = server.sent("PUT", "/_matrix/client/v3/rooms/")
    assert body_of(put)["m.relates_to"] == {"m.in_reply_to": {"event_id": "$customer"}}
    assert server.sent("POST", "/_matrix/client/v3/createRoom") == []


def test_replies_that_cannot_be_sent_are_refused_for_good() -> None:
    matrix = connector(FakeHomeserver())
    for bad in (reply(Visibility.PUBLIC, None), reply(Visibility.PUBLIC, "p17-a1b2c3")):
        with pytest.raises(DeliveryError) as raised:
            matrix.send(bad)
        assert not raised.value.retryable
    too_long = reply(Visibility.PUBLIC).model_copy(update={"text": "x" * 8001})
    with pytest.raises(DeliveryError) as raised:
        matrix.send(too_long)
    assert not raised.value.retryable


@pytest.mark.parametrize(
    ("response", "error", "retryable", "retry_after"),
    [
        (json_response(429, fixture("error__rate_limited.json")), RateLimited, True, 2.0),
        (json_response(429, {"errcode": "M_LIMIT_EXCEEDED"}, {"Retry-After": "7"}), RateLimited, True, 7.0),
        (json_response(401, fixture("error__unknown_token.json")), ReconnectRequired, False, None),
        (json_response(502, {"errcode": "M_UNKNOWN"}), DeliveryError, True, None),
        (httpx.Response(503, text="<html>gateway</html>"), DeliveryError, True, None),
        (json_response(403, {"errcode": "M_FORBIDDEN", "error": "not in room"}), DeliveryError, False, None),
        (json_response(413, {"errcode": "M_TOO_LARGE"}), DeliveryError, False, None),
    ],
)
def test_network_failures_map_to_delivery_errors(
    response: httpx.Response, error: type[DeliveryError], retryable: bool, retry_after: float | None
) -> None:
    server = FakeHomeserver()
    server.on("GET", f"/_matrix/client/v3/rooms/{PUBLIC_ROOM}/event/", json_response(200, lena_event()))
    server.on("PUT", f"/_matrix/client/v3/rooms/{PUBLIC_ROOM}/send/", response)
    with pytest.raises(error) as raised:
        connector(server).send(reply(Visibility.PUBLIC))
    assert type(raised.value) is error or error is DeliveryError
    assert raised.value.retryable is retryable
    assert raised.value.retry_after == retry_after


def test_timeouts_are_retryable() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    server = FakeHomeserver().on("GET", "/_matrix/client/v3/rooms/", slow)
    with pytest.raises(DeliveryError) as raised:
        connector(server).send(reply(Visibility.PUBLIC))
    assert raised.value.retryable


def test_an_expired_token_is_replaced_by_a_password_login() -> None:
    tokens: list[str] = []

    def sync(request: httpx.Request) -> httpx.Response:
        tokens.append(request.headers["authorization"])
        if request.headers["authorization"] == "Bearer old":
            return json_response(401, fixture("error__unknown_token.json"))
        return json_response(200, {"next_batch": "s2"})

    server = FakeHomeserver().on("GET", "/_matrix/client/v3/sync", sync)
    server.on("POST", "/_matrix/client/v3/login", json_response(200, {"access_token": "new", "user_id": BOT}))
    server.on("POST", "/_matrix/client/v3/logout", json_response(200, {}))
    matrix = connector(server, access_token="old", password="secret-pw")
    assert matrix.poll("s1").cursor == "s2"
    assert tokens == ["Bearer old", "Bearer new"]
    [login] = server.sent("POST", "/_matrix/client/v3/login")
    assert body_of(login)["identifier"] == {"type": "m.id.user", "user": BOT}
    matrix.close()  # the device we made is logged out again
    [logout] = server.sent("POST", "/_matrix/client/v3/logout")
    assert logout.headers["authorization"] == "Bearer new"


def test_a_refused_password_needs_a_reconnect() -> None:
    server = FakeHomeserver().on("POST", "/_matrix/client/v3/login", json_response(403, {"errcode": "M_FORBIDDEN"}))
    with pytest.raises(ReconnectRequired):
        connector(server, access_token=None, password="wrong").poll(None)


def test_the_stream_waits_out_rate_limits_and_stops_when_asked() -> None:
    stop = threading.Event()
    calls: list[str | None] = []

    def sync(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.params.get("since"))
        if len(calls) == 1:
            return json_response(429, {"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 10})
        if len(calls) == 4:
            stop.set()  # stopped while this long-poll was open: its batch is not handed over
        return json_response(200, {"next_batch": f"s{len(calls)}"})

    server = FakeHomeserver().on("GET", "/_matrix/client/v3/sync", sync)
    batches = list(connector(server).stream("s0", stop))
    assert [b.cursor for b in batches] == ["s2", "s3"]
    assert calls == ["s0", "s0", "s2", "s3"]
    assert server.sent("GET", "/_matrix/client/v3/sync")[0].url.params["timeout"] == "8000"


def test_the_first_sync_only_marks_the_start() -> None:
    server = FakeHomeserver().on(
        "GET", "/_matrix/client/v3/sync", json_response(200, fixture("sync__public_message.json"))
    )
    result = connector(server).poll(None)
    assert result.messages == [] and result.cursor == fixture("sync__public_message.json")["next_batch"]
    assert "since" not in server.sent("GET", "/_matrix/client/v3/sync")[0].url.params


def test_encrypted_rooms_are_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    document = fixture("sync__public_message.json")
    timeline = document["rooms"]["join"][PUBLIC_ROOM]["timeline"]["events"]
    encrypted = {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgAEn...", "session_id": "x"}
    timeline[:] = [
        {**timeline[0], "event_id": f"$e{i}", "type": "m.room.encrypted", "content": encrypted} for i in (1, 2)
    ]
    assert connector(FakeHomeserver()).process_sync(SyncResponse.model_validate(document), since=None) == []
    assert caplog.text.count("is end-to-end encrypted") == 1
