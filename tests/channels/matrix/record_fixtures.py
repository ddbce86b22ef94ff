"""Records the Matrix fixtures from a real Synapse: `python -m tests.channels.matrix.record_fixtures`.

Each scenario happens on the homeserver (customers post through the client API, the company's
replies go out through the connector itself); then the bot's `/sync` is recorded as an initial
sync limited to the scenario's room with a timeline of one event, so the fixture holds the
event and the room's full state before it, exactly as the homeserver sent them.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from tests.channels.matrix.synapse import MatrixUser, Synapse
from tests.conftest import free_port
from townsquare.channels.matrix.connector import MatrixConnector, MatrixSettings
from townsquare.model import AuthorIdentity, OutboundReply, Visibility

FIXTURES = Path(__file__).resolve().parents[3] / "src" / "townsquare" / "channels" / "matrix" / "fixtures"


def room_sync(server: Synapse, bot: MatrixUser, room_id: str, limit: int = 1) -> dict[str, Any]:
    room_filter = {
        "presence": {"not_types": ["*"]},
        "account_data": {"types": ["m.direct"]},
        "room": {
            "rooms": [room_id],
            "timeline": {"limit": limit},
            "state": {"lazy_load_members": False},
            "ephemeral": {"not_types": ["*"]},
            "account_data": {"not_types": ["*"]},
        },
    }
    return server.call(bot, "GET", "/sync", timeout=0, filter=json.dumps(room_filter))


def write(name: str, document: dict[str, Any]) -> None:
    (FIXTURES / name).write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    print("recorded", name)


def record(server: Synapse) -> None:
    bot, lena, ben = server.register("acme"), server.register("lena"), server.register("ben")
    mallory = server.register("mallory")
    server.call(lena, "PUT", f"/profile/{lena.user_id}/displayname", {"displayname": "Lena Hoffmann"})
    server.call(ben, "PUT", f"/profile/{ben.user_id}/displayname", {"displayname": "Ben Miller"})
    server.call(
        mallory,
        "PUT",
        f"/profile/{mallory.user_id}/displayname",
        {"displayname": "<script>alert('x')</script> Mallory"},
    )
    connector = MatrixConnector(
        "acme", MatrixSettings(homeserver=server.url, user_id=bot.user_id, access_token=bot.access_token)
    )

    # A public room with three customers; the bot is invited and joins.
    public = server.call(
        lena, "POST", "/createRoom", {"name": "Acme Community", "preset": "public_chat", "invite": [bot.user_id]}
    )["room_id"]
    server.call(bot, "POST", f"/join/{public}", {})
    server.call(ben, "POST", f"/join/{public}", {})
    server.call(mallory, "POST", f"/join/{public}", {})
    post = server.say(lena, public, "@acme seit drei Tagen kein Internet und niemand meldet sich. Unfassbar.")
    write("sync__public_message.json", room_sync(server, bot, public))

    answer = connector.send(
        OutboundReply(
            reply_id="r-record-1",
            account="acme",
            text="Das tut uns leid, Lena! Wir schauen sofort nach.",
            visibility=Visibility.PUBLIC,
            recipient=AuthorIdentity(external_id=lena.user_id),
            in_reply_to=f"{public}/{post}",
            conversation_id="c1",
        )
    )
    write("sync__own_reply.json", room_sync(server, bot, public))
    answer_event = answer.external_id.partition("/")[2]
    server.send(
        lena,
        public,
        {
            "msgtype": "m.text",
            "body": "> <@acme:localhost> Das tut uns leid, Lena! Wir schauen sofort nach.\n\nGeht immer noch nicht.",
            "m.relates_to": {"m.in_reply_to": {"event_id": answer_event}},
        },
    )
    write("sync__reply.json", room_sync(server, bot, public))

    server.send(
        ben,
        public,
        {
            "msgtype": "m.text",
            "body": "Bei mir auch, Kabel in Köln-Ehrenfeld.",
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": post,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": post},
            },
        },
    )
    write("sync__thread_reply.json", room_sync(server, bot, public))

    server.send(
        mallory,
        public,
        {
            "msgtype": "m.text",
            "body": "<img src=x onerror=alert(1)> @acme your login page shows this: <script>steal()</script>",
            "format": "org.matrix.custom.html",
            "formatted_body": '<img src="x" onerror="alert(1)"><a href="javascript:steal()">@acme</a>',
        },
    )
    write("sync__hostile_html.json", room_sync(server, bot, public))

    server.send(lena, public, {"order": "7788123", "status": "<b>late</b>"}, event_type="com.example.order")
    write("sync__unknown_event_type.json", room_sync(server, bot, public))

    server.send(
        lena, public, {"msgtype": "m.text", "body": "reply to what?", "m.relates_to": {"m.in_reply_to": "nope"}}
    )
    write("sync__malformed_relation.json", room_sync(server, bot, public))

    server.send(lena, public, {"msgtype": "m.image", "body": "fehler.png", "url": "mxc://localhost/abcdef"})
    write("sync__image_message.json", room_sync(server, bot, public))

    server.send(
        lena,
        public,
        {
            "msgtype": "m.text",
            "body": " * @acme seit vier Tagen kein Internet.",
            "m.new_content": {"msgtype": "m.text", "body": "@acme seit vier Tagen kein Internet."},
            "m.relates_to": {"rel_type": "m.replace", "event_id": post},
        },
    )
    write("sync__edit.json", room_sync(server, bot, public))

    # A direct chat: Ben invites the bot with is_direct; the bot joins and records it in m.direct.
    direct = server.call(
        ben, "POST", "/createRoom", {"preset": "trusted_private_chat", "is_direct": True, "invite": [bot.user_id]}
    )["room_id"]
    write("sync__invite_direct.json", room_sync(server, bot, direct))
    server.call(bot, "POST", f"/join/{direct}", {})
    server.call(bot, "PUT", f"/user/{bot.user_id}/account_data/m.direct", {ben.user_id: [direct]})
    server.say(ben, direct, "I was charged twice for my new phone. Order 7788123. Please check.")
    write("sync__direct_message.json", room_sync(server, bot, direct))

    # A two-person room that is not marked direct is private too.
    small = server.call(lena, "POST", "/createRoom", {"name": "Lena & Acme", "invite": [bot.user_id]})["room_id"]
    server.call(bot, "POST", f"/join/{small}", {})
    server.say(lena, small, "Meine Kundennummer ist 4711-2233.")
    write("sync__two_member_room.json", room_sync(server, bot, small))

    bogus = MatrixUser(bot.user_id, "syt_not_a_token", "")
    response = httpx.get(
        f"{server.url}/_matrix/client/v3/sync", headers={"Authorization": f"Bearer {bogus.access_token}"}
    )
    write("error__unknown_token.json", response.json())
    connector.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        server = Synapse(Path(folder), free_port())
        server.start()
        try:
            record(server)
        finally:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
