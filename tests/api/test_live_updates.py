"""Live updates over Server-Sent Events, read from a real server by a real HTTP client."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx

from tests.conftest import ADMIN, Users, townsquare_server, wait_for
from tests.factories import message
from townsquare.model import ConversationStatus
from townsquare.runtime import Runtime


def test_events_stream_needs_authentication(runtime: Runtime) -> None:
    with townsquare_server(runtime) as server:
        assert httpx.get(f"{server.url}/api/events").status_code == 401


def test_new_conversations_and_changes_arrive_as_events(runtime: Runtime, users: Users) -> None:
    received: list[tuple[str, dict[str, Any]]] = []
    ready = threading.Event()
    done = threading.Event()

    def listen(url: str) -> None:
        with httpx.stream("GET", f"{url}/api/events", headers=users.headers("viewer"), timeout=10) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            kind = None
            for line in response.iter_lines():
                if line.startswith("event:"):
                    kind = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and kind:
                    if kind == "ready":
                        ready.set()
                    else:
                        received.append((kind, json.loads(line.split(":", 1)[1])))
                    if kind == "conversation.updated":
                        done.set()
                        return

    with townsquare_server(runtime) as server:
        listener = threading.Thread(target=listen, args=(server.url,), daemon=True)
        listener.start()
        assert ready.wait(10)
        runtime.bus.publish([message("sse-1")])
        assert runtime.bus.drain(10)
        wait_for(lambda: any(kind == "conversation.created" for kind, _ in received))
        conversation_id = next(data["conversation_id"] for kind, data in received if kind == "conversation.created")
        runtime.actions.set_status(ADMIN, conversation_id, ConversationStatus.RESOLVED)
        assert done.wait(10)
        listener.join(5)
    kinds = [kind for kind, _ in received]
    assert kinds[:2] == ["conversation.created", "message.received"]
    assert received[-1] == (
        "conversation.updated",
        {"conversation_id": conversation_id, "change": "status", "at": received[-1][1]["at"]},
    )
