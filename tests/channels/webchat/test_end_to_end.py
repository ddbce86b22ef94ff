"""Web chat end to end over real HTTP: Townsquare served by uvicorn on 127.0.0.1, a visitor's
client calling the visitor endpoints as the widget does (with the site's Origin), the live stream
read as Server-Sent Events, agents answering through the API. Then Townsquare stops and a new
Runtime starts on the same database: the visitor keeps their identity and conversation, and
nothing is lost or stored twice."""

from __future__ import annotations

import json
import queue
import threading
from typing import Any

import httpx

from tests import api_client as api
from tests.api_client import detail
from tests.channels.webchat.conftest import ACCOUNT, SITE, connect_webchat
from tests.conftest import Users, free_port, townsquare_server, wait_for
from townsquare.channels.webchat.live import InProcessVisitorHub, VisitorKey, current_hub
from townsquare.channels.webchat.service import WebchatService
from townsquare.config import Settings
from townsquare.runtime import Runtime


class LiveStream:
    """Reads the visitor's SSE stream in a thread until it has seen an agent's reply."""

    def __init__(self, base_url: str, token: str) -> None:
        self.events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.base_url, self.token = base_url, token
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        headers = {"Origin": SITE, "Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
        with (
            httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(30.0)) as client,
            client.stream("GET", f"/webchat/{ACCOUNT}/stream", headers=headers) as response,
        ):
            assert response.headers["access-control-allow-origin"] == SITE
            kind = ""
            for line in response.iter_lines():
                if line.startswith("event:"):
                    kind = line.removeprefix("event:").strip()
                elif line.startswith("data:"):
                    data = json.loads(line.removeprefix("data:").strip())
                    self.events.put((kind, data))
                    if kind == "message" and data["direction"] == "outbound":
                        return  # closes the connection, like a visitor leaving the page

    def next(self, timeout: float = 10.0) -> tuple[str, dict[str, Any]]:
        return self.events.get(timeout=timeout)


def runtime_on(sqlite_url: str, port: int) -> Runtime:
    return Runtime.create(
        Settings(database_url=sqlite_url, triage="off", public_url=f"http://127.0.0.1:{port}", outbox_poll_seconds=0.1)
    )


def visitor_client(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=f"{base_url}/webchat/{ACCOUNT}", headers={"Origin": SITE}, timeout=10.0)


def conversations(base: str, users: Users) -> list[dict[str, Any]]:
    return api.conversations(base, users, channel="webchat")


def answer(base: str, users: Users, conversation_id: str, text: str) -> str:
    return api.answer(base, users, conversation_id, text, "private")


def test_visitor_chats_live_and_survives_a_restart(sqlite_url: str) -> None:
    port = free_port()
    runtime = runtime_on(sqlite_url, port)
    connect_webchat(runtime)
    users = Users(runtime)
    with (
        townsquare_server(runtime, services=[WebchatService(runtime)], port=port) as server,
        visitor_client(server.url) as visitor,
    ):
        session = visitor.post("/session", json={"name": "Lena Hoffmann", "email": "lena@example.com"}).json()
        auth = {"Authorization": f"Bearer {session['token']}"}
        stream = LiveStream(server.url, session["token"])
        assert stream.next() == ("ready", {"visitor_id": session["visitor_id"]})

        sent = visitor.post(
            "/messages", json={"text": "Router blinkt rot", "client_id": "first-message-01"}, headers=auth
        )
        assert sent.status_code == 202
        assert stream.next()[1]["id"] == sent.json()["id"]  # the visitor's other tabs see it too

        [conversation] = wait_for(lambda: conversations(server.url, users))  # type: ignore[misc]
        assert conversation["contact_name"] == "Lena Hoffmann" and conversation["has_private"]
        reply_id = answer(server.url, users, conversation["id"], "Hallo Lena, <b>wir</b> schauen nach.")
        kind, live = stream.next()
        assert kind == "message"
        assert (live["id"], live["direction"], live["text"], live["author"]) == (
            f"wcr_{reply_id}",
            "outbound",
            "Hallo Lena, <b>wir</b> schauen nach.",
            "Acme team",
        )
        stream.thread.join(10)
        key = VisitorKey(ACCOUNT, session["visitor_id"])
        hub = current_hub()
        assert isinstance(hub, InProcessVisitorHub)
        wait_for(lambda: hub.connected(key) == 0)  # the server let go of the closed stream

        # The visitor has left; the agent answers anyway. It waits in the transcript.
        away_id = answer(server.url, users, conversation["id"], "Bitte starten Sie den Router neu.")
        wait_for(lambda: detail(server.url, users, conversation["id"])["message_count"] == 3)
        outbound = [
            m for m in detail(server.url, users, conversation["id"])["messages"] if m["direction"] == "outbound"
        ]
        assert [m["external_id"] for m in outbound] == [f"wcr_{reply_id}", f"wcr_{away_id}"]

    # A new process on the same database: the secret key is kept there, so the token still holds.
    runtime = runtime_on(sqlite_url, port)
    with (
        townsquare_server(runtime, services=[WebchatService(runtime)], port=port) as server,
        visitor_client(server.url) as visitor,
    ):
        resumed = visitor.post("/session", json={"token": session["token"]}).json()
        assert resumed["resumed"] and resumed["visitor_id"] == session["visitor_id"]
        assert (resumed["name"], resumed["email"]) == ("Lena Hoffmann", "lena@example.com")
        auth = {"Authorization": f"Bearer {resumed['token']}"}
        lines = visitor.get("/history", headers=auth).json()["messages"]
        assert [(m["direction"], m["text"]) for m in lines] == [
            ("inbound", "Router blinkt rot"),
            ("outbound", "Hallo Lena, <b>wir</b> schauen nach."),
            ("outbound", "Bitte starten Sie den Router neu."),
        ]
        # The widget retries the first send (its answer was lost): stored once. Then a new one.
        again = visitor.post(
            "/messages", json={"text": "Router blinkt rot", "client_id": "first-message-01"}, headers=auth
        )
        assert again.json()["id"] == sent.json()["id"]
        visitor.post("/messages", json={"text": "Neustart hat geholfen, danke!"}, headers=auth)
        wait_for(lambda: detail(server.url, users, conversation["id"])["message_count"] == 4)
        assert [c["id"] for c in conversations(server.url, users)] == [conversation["id"]]
        texts = [m["text"] for m in detail(server.url, users, conversation["id"])["messages"]]
        assert texts.count("Router blinkt rot") == 1 and texts[-1] == "Neustart hat geholfen, danke!"
