"""A real Synapse homeserver on 127.0.0.1 and a running Townsquare: customers write in a public
room and in direct chats, the listener syncs it in, agents answer through the API, and the
customers' own accounts see the answers threaded (the private one in a direct chat). Plus a
restart with more messages than one /sync carries, hostile and broken input, a revoked token and
a password login."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest

from tests.api_client import all_messages, answer, conversations, detail
from tests.channels.matrix.synapse import MatrixUser, Synapse
from tests.conftest import Users, free_port, townsquare_server, wait_for
from townsquare.channels.base import ReconnectRequired
from townsquare.channels.listeners import ListenerService
from townsquare.channels.matrix.connector import MatrixConnector, MatrixSettings
from townsquare.config import Settings
from townsquare.model import AuthorIdentity, OutboundReply, Visibility
from townsquare.runtime import Runtime
from townsquare.store import accounts

pytestmark = pytest.mark.timeout(300)  # the first test may install Synapse (~15-50 s)
TIMEOUT = 20.0
_names = itertools.count()


def unique(name: str) -> str:
    """The homeserver lives for the whole session: every test gets its own people."""
    return f"{name}{next(_names)}"


def settings_for(sqlite_url: str, port: int) -> Settings:
    return Settings(
        database_url=sqlite_url,
        triage="off",
        public_url=f"http://127.0.0.1:{port}",
        outbox_poll_seconds=0.1,
        incidents=False,
    )


def connect(runtime: Runtime, synapse: Synapse, bot: MatrixUser, **extra: Any) -> None:
    values = {"homeserver": synapse.url, "user_id": bot.user_id, "access_token": bot.access_token}
    with runtime.db.write() as conn:
        # A short long-poll keeps each stop of Townsquare in the tests under two seconds.
        accounts.upsert_account(conn, "matrix", "acme", {**values, "sync_timeout_seconds": 2, **extra})


def listening(runtime: Runtime) -> ListenerService:
    return ListenerService(runtime, scan_seconds=0.2)


def account_row(runtime: Runtime) -> dict[str, Any]:
    with runtime.db.read() as conn:
        row = accounts.get_account(conn, "matrix", "acme")
    assert row is not None
    return dict(row)


def people(synapse: Synapse, *names: str) -> list[MatrixUser]:
    found = []
    for name in names:
        user = synapse.register(unique(re.sub(r"[^a-z]", "", name.lower())[:12]))
        synapse.call(user, "PUT", f"/profile/{user.user_id}/displayname", {"displayname": name})
        found.append(user)
    return found


def public_room(synapse: Synapse, owner: MatrixUser, bot: MatrixUser, *others: MatrixUser) -> str:
    room_id = str(
        synapse.call(
            owner, "POST", "/createRoom", {"name": "Acme Community", "preset": "public_chat", "invite": [bot.user_id]}
        )["room_id"]
    )
    for other in others:
        synapse.call(other, "POST", f"/join/{room_id}", {})
    return room_id


def joined(synapse: Synapse, viewer: MatrixUser, room_id: str, user: MatrixUser) -> bool:
    return user.user_id in synapse.call(viewer, "GET", f"/rooms/{room_id}/joined_members")["joined"]


def from_bot(synapse: Synapse, viewer: MatrixUser, room_id: str, bot: MatrixUser) -> list[dict[str, Any]]:
    return [
        e for e in synapse.messages(viewer, room_id) if e["type"] == "m.room.message" and e["sender"] == bot.user_id
    ]


def invites(synapse: Synapse, user: MatrixUser) -> dict[str, Any]:
    quiet = {"room": {"timeline": {"limit": 0}}, "presence": {"not_types": ["*"]}}
    rooms: dict[str, Any] = synapse.call(user, "GET", "/sync", timeout=0, filter=json.dumps(quiet))["rooms"]
    found: dict[str, Any] = rooms.get("invite", {})
    return found


def test_public_and_private_paths(sqlite_url: str, synapse: Synapse) -> None:
    bot, lena, ben = people(synapse, "Acme Mobile", "Lena Hoffmann", "Ben Miller")
    room = public_room(synapse, lena, bot, ben)
    port = free_port()
    runtime = Runtime.create(settings_for(sqlite_url, port))
    connect(runtime, synapse, bot)
    users = Users(runtime)
    with townsquare_server(runtime, services=[listening(runtime)], port=port) as server:
        wait_for(lambda: joined(synapse, lena, room, bot), timeout=TIMEOUT)  # the invite was accepted
        post = synapse.say(lena, room, "@acme seit drei Tagen kein Internet.\n\nIst das bekannt?")
        [conversation] = wait_for(lambda: conversations(server.url, users), timeout=TIMEOUT)  # type: ignore[misc]
        assert conversation["channel"] == "matrix" and conversation["contact_name"] == "Lena Hoffmann"
        [message] = detail(server.url, users, conversation["id"])["messages"]
        assert message["external_id"] == f"{room}/{post}" and message["visibility"] == "public"
        assert message["text"] == "@acme seit drei Tagen kein Internet.\n\nIst das bekannt?"
        assert message["author_handle"] == lena.user_id

        answer(server.url, users, conversation["id"], "Das tut uns leid! Wir prüfen das.", "public")
        [public_reply] = wait_for(lambda: from_bot(synapse, lena, room, bot), timeout=TIMEOUT)  # type: ignore[misc]
        content = public_reply["content"]
        assert content["m.relates_to"] == {"m.in_reply_to": {"event_id": post}}
        assert content["body"].startswith(f"> <{lena.user_id}> @acme seit drei Tagen kein Internet.\n")
        assert content["body"].endswith("\n\nDas tut uns leid! Wir prüfen das.")
        assert content["m.mentions"] == {"user_ids": [lena.user_id]}
        outbound = wait_for(
            lambda: [
                m for m in detail(server.url, users, conversation["id"])["messages"] if m["direction"] == "outbound"
            ],
            timeout=TIMEOUT,
        )
        assert outbound[0]["external_id"] == f"{room}/{public_reply['event_id']}"  # type: ignore[index]

        # Lena answers the reply (Matrix reply with its fallback): same conversation, clean text.
        fallback = f"> <{bot.user_id}> Das tut uns leid! Wir prüfen das.\n\n"
        synapse.say(lena, room, fallback + "Geht immer noch nicht.", reply_to=public_reply["event_id"])
        wait_for(lambda: detail(server.url, users, conversation["id"])["message_count"] == 3, timeout=TIMEOUT)
        texts = [m["text"] for m in detail(server.url, users, conversation["id"])["messages"]]
        assert "Geht immer noch nicht." in texts

        # A private answer to a public post: the bot opens a direct chat with Lena.
        answer(server.url, users, conversation["id"], "Bitte schicken Sie uns Ihre Kundennummer.", "private")
        [dm] = wait_for(lambda: list(invites(synapse, lena)), timeout=TIMEOUT)  # type: ignore[misc]
        invite_state = invites(synapse, lena)[dm]["invite_state"]["events"]
        assert any(e["type"] == "m.room.member" and e["content"].get("is_direct") for e in invite_state)
        synapse.call(lena, "POST", f"/join/{dm}", {})
        [private] = from_bot(synapse, lena, dm, bot)
        assert private["content"]["body"] == "Bitte schicken Sie uns Ihre Kundennummer."
        assert all("Kundennummer" not in e["content"]["body"] for e in from_bot(synapse, lena, room, bot))
        direct = synapse.call(bot, "GET", f"/user/{bot.user_id}/account_data/m.direct")
        assert direct == {lena.user_id: [dm]}

        # Lena writes in the direct chat: private, and still the same conversation.
        secret = synapse.say(lena, dm, "Meine Kundennummer ist 4711-2233")
        wait_for(lambda: detail(server.url, users, conversation["id"])["message_count"] == 5, timeout=TIMEOUT)
        document = detail(server.url, users, conversation["id"])
        assert document["has_private"] and len(conversations(server.url, users)) == 1
        [private_in] = [m for m in document["messages"] if m["external_id"] == f"{dm}/{secret}"]
        assert private_in["visibility"] == "private"

        # The next private answer goes into that chat as a reply, no new room.
        answer(server.url, users, conversation["id"], "Danke, wir haben Ihren Vertrag gefunden.", "private")
        wait_for(lambda: len(from_bot(synapse, lena, dm, bot)) == 2, timeout=TIMEOUT)
        second = from_bot(synapse, lena, dm, bot)[1]["content"]
        assert second["m.relates_to"] == {"m.in_reply_to": {"event_id": secret}}
        assert second["body"].endswith("Danke, wir haben Ihren Vertrag gefunden.")
        assert list(invites(synapse, lena)) == []
        assert account_row(runtime)["status"] == "active"


def test_a_customer_opens_a_direct_chat(sqlite_url: str, synapse: Synapse) -> None:
    bot, ben = people(synapse, "Acme Mobile", "Ben Miller")
    port = free_port()
    runtime = Runtime.create(settings_for(sqlite_url, port))
    connect(runtime, synapse, bot)
    users = Users(runtime)
    with townsquare_server(runtime, services=[listening(runtime)], port=port) as server:
        wait_for(lambda: account_row(runtime)["cursor"], timeout=TIMEOUT)
        # Ben writes right away, before the bot has accepted the invite: nothing is missed.
        dm = synapse.call(
            ben, "POST", "/createRoom", {"preset": "trusted_private_chat", "is_direct": True, "invite": [bot.user_id]}
        )["room_id"]
        first = synapse.say(ben, dm, "I was charged twice for my new phone. Order 7788123.")
        [conversation] = wait_for(lambda: conversations(server.url, users), timeout=TIMEOUT)  # type: ignore[misc]
        [message] = detail(server.url, users, conversation["id"])["messages"]
        assert message["external_id"] == f"{dm}/{first}" and message["visibility"] == "private"
        assert conversation["contact_name"] == "Ben Miller"
        assert synapse.call(bot, "GET", f"/user/{bot.user_id}/account_data/m.direct") == {ben.user_id: [dm]}

        answer(server.url, users, conversation["id"], "We refunded the second charge.", "private")
        [reply] = wait_for(lambda: from_bot(synapse, ben, dm, bot), timeout=TIMEOUT)  # type: ignore[misc]
        assert reply["content"]["m.relates_to"] == {"m.in_reply_to": {"event_id": first}}
        assert list(invites(synapse, ben)) == []  # answered in the same chat


def test_restart_loses_and_duplicates_nothing(sqlite_url: str, synapse: Synapse) -> None:
    bot, lena, ben, carl = people(synapse, "Acme Mobile", "Lena Hoffmann", "Ben Miller", "Carl Jung")
    room = public_room(synapse, lena, bot, ben, carl)
    authors = [lena, ben, carl]
    port = free_port()
    settings = settings_for(sqlite_url, port)
    first = Runtime.create(settings)
    connect(first, synapse, bot)
    users = Users(first)
    with townsquare_server(first, services=[listening(first)], port=port) as server:
        wait_for(lambda: joined(synapse, lena, room, bot), timeout=TIMEOUT)
        for index in range(3):
            synapse.say(authors[index], room, f"@acme Störung {index}")
        wait_for(lambda: len(all_messages(server.url, users)) == 3, timeout=TIMEOUT)
    stored_cursor = account_row(first)["cursor"]

    # Townsquare is down: more messages than one /sync answer carries (its timeline limit is 50).
    expected = {f"@acme Störung {index}" for index in range(3)}
    for index in range(3, 58):
        synapse.say(authors[index % 3], room, f"@acme Störung {index}")
        expected.add(f"@acme Störung {index}")

    second = Runtime.create(settings)
    with townsquare_server(second, services=[listening(second)], port=port) as server:
        wait_for(lambda: len(all_messages(server.url, users)) >= 58, timeout=TIMEOUT)
        assert account_row(second)["cursor"] != stored_cursor
        # Syncing again from the old token (a crash before the cursor was saved) changes nothing.
        connector = second.hub.get("matrix", "acme")
        again = connector.poll(stored_cursor)
        assert len(again.messages) == 55
        second.pipeline.process(again.messages)
        found = all_messages(server.url, users)
        assert len(found) == 58 and {m["text"] for m in found} == expected
        assert len({m["external_id"] for m in found}) == 58
        assert len(conversations(server.url, users)) == 3  # one per customer


def test_hostile_and_broken_input_is_stored_as_is_or_skipped(sqlite_url: str, synapse: Synapse) -> None:
    bot, lena, mallory = people(synapse, "Acme Mobile", "Lena Hoffmann", "<script>alert('x')</script> Mallory")
    room = public_room(synapse, lena, bot, mallory)
    port = free_port()
    runtime = Runtime.create(settings_for(sqlite_url, port))
    connect(runtime, synapse, bot)
    users = Users(runtime)
    hostile = "<img src=x onerror=alert(1)> @acme login page shows <script>steal()</script>"
    with townsquare_server(runtime, services=[listening(runtime)], port=port) as server:
        wait_for(lambda: joined(synapse, lena, room, bot), timeout=TIMEOUT)
        synapse.send(
            mallory,
            room,
            {"msgtype": "m.text", "body": hostile, "format": "org.matrix.custom.html", "formatted_body": hostile},
        )
        synapse.send(lena, room, {"order": "<b>7788123</b>"}, event_type="com.example.order")
        synapse.send(lena, room, {"msgtype": "m.text", "body": "broken", "m.relates_to": {"m.in_reply_to": "nope"}})
        synapse.send(lena, room, {"msgtype": "m.text", "body": "x", "m.relates_to": {"rel_type": "m.thread"}})
        huge = "Ä" * 30_000  # near the homeserver's 64 KiB event limit
        synapse.say(lena, room, huge)
        synapse.say(lena, room, "@acme noch jemand da?")
        wait_for(lambda: any(m["text"] == "@acme noch jemand da?" for m in all_messages(server.url, users)))
        found = all_messages(server.url, users)
        by_text = {m["text"]: m for m in found}
        assert set(by_text) == {hostile, "x", huge, "@acme noch jemand da?"}
        assert by_text[hostile]["author_name"] == "<script>alert('x')</script> Mallory"
        names = {c["contact_name"] for c in conversations(server.url, users)}
        assert "<script>alert('x')</script> Mallory" in names
        assert account_row(runtime)["status"] == "active"  # the listener kept running


def test_a_revoked_token_asks_for_a_reconnect(sqlite_url: str, synapse: Synapse) -> None:
    bot, lena = people(synapse, "Acme Mobile", "Lena Hoffmann")
    port = free_port()
    runtime = Runtime.create(settings_for(sqlite_url, port))
    connect(runtime, synapse, bot)
    with townsquare_server(runtime, services=[listening(runtime)], port=port):
        wait_for(lambda: account_row(runtime)["cursor"], timeout=TIMEOUT)
        synapse.call(bot, "POST", "/logout", {})
        wait_for(lambda: account_row(runtime)["status"] == "reconnect", timeout=TIMEOUT)
    connector = MatrixConnector(
        "acme", MatrixSettings(homeserver=synapse.url, user_id=bot.user_id, access_token=bot.access_token)
    )
    reply = OutboundReply(
        reply_id="r1",
        account="acme",
        text="hello",
        visibility=Visibility.PRIVATE,
        recipient=AuthorIdentity(external_id=lena.user_id),
        conversation_id="c1",
    )
    with pytest.raises(ReconnectRequired):
        connector.send(reply)
    connector.close()


def test_password_login_and_logout(synapse: Synapse) -> None:
    [bot] = people(synapse, "Acme Mobile")
    devices_before = len(synapse.call(bot, "GET", "/devices")["devices"])
    connector = MatrixConnector(
        "acme", MatrixSettings(homeserver=synapse.url, user_id=bot.user_id, password=bot.password)
    )
    assert connector.poll(None).cursor
    assert len(synapse.call(bot, "GET", "/devices")["devices"]) == devices_before + 1
    connector.close()
    assert len(synapse.call(bot, "GET", "/devices")["devices"]) == devices_before
