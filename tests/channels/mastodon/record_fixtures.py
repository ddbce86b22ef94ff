"""Records the connector's fixtures from a real mastodon-mock server:
`python -m tests.channels.mastodon.record_fixtures` (rewrites src/.../mastodon/fixtures/).

Every fixture is a payload the server sent, except `notification__malformed.json`, which is the
recorded mention with `created_at` and the status's `account` removed (a broken server's answer).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.channels.mastodon.peer import MastodonMock, User
from tests.conftest import free_port

FIXTURES = Path(__file__).resolve().parents[3] / "src" / "townsquare" / "channels" / "mastodon" / "fixtures"


def write(name: str, document: Any) -> None:
    (FIXTURES / name).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def capture_stream(server: MastodonMock, user: User, lines: list[str], stop: threading.Event) -> None:
    with httpx.stream(
        "GET", f"{server.url}/api/v1/streaming/user", headers=user.headers, timeout=httpx.Timeout(5, read=30)
    ) as response:
        for line in response.iter_lines():
            lines.append(line)
            if stop.is_set() and line == "":
                return


def by_status(notifications: list[dict[str, Any]], status_id: str) -> dict[str, Any]:
    return next(n for n in notifications if n.get("status") and n["status"]["id"] == status_id)


def main() -> None:
    server = MastodonMock(free_port()).start()
    try:
        acme = server.create_user("acme", "Acme Mobile")
        lena = server.create_user("lena", "Lena Hoffmann")
        mallory = server.create_user("mallory", '<img src=x onerror="alert(1)">Mallory</b>')
        server.http.post(f"/api/v1/accounts/{acme.id}/follow", headers=lena.headers).raise_for_status()
        lines: list[str] = []
        stop = threading.Event()
        reader = threading.Thread(target=capture_stream, args=(server, acme, lines, stop), daemon=True)
        reader.start()
        time.sleep(0.5)

        public = server.post(
            lena, "@acme seit drei Tagen kein Internet in 10115 Berlin 😡\n\nIst das bekannt?", language="de"
        )
        ours = server.post(acme, "@lena Das tut uns leid! Wir prüfen das.", in_reply_to_id=public["id"])
        reply = server.post(lena, "@acme geht immer noch nicht", in_reply_to_id=ours["id"], language="de")
        direct = server.post(lena, "@acme Meine Kundennummer ist 4711-2233", visibility="direct", language="de")
        hostile = server.post(
            mallory,
            '@acme <script>alert("x")</script> & <b>bold</b> **really** https://example.com/a/very/long/path?q=1&r=2',
            language="en",
        )
        server.http.post(f"/api/v1/statuses/{ours['id']}/favourite", headers=lena.headers).raise_for_status()
        time.sleep(0.5)
        stop.set()
        server.post(lena, "@acme last one, ends the capture")
        reader.join(10)

        notifications = server.get(acme, "/api/v1/notifications")
        write("status__created.json", ours)
        write("notification__mention.json", by_status(notifications, public["id"]))
        write("notification__reply.json", by_status(notifications, reply["id"]))
        write("notification__direct.json", by_status(notifications, direct["id"]))
        write("notification__hostile_html.json", by_status(notifications, hostile["id"]))
        write("notification__favourite.json", next(n for n in notifications if n["type"] == "favourite"))
        broken = by_status(notifications, public["id"])
        del broken["created_at"], broken["status"]["account"]
        write("notification__malformed.json", broken)
        (FIXTURES / "stream__user.sse").write_text("\n".join(lines) + "\n")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
