"""The demo network as a real peer: its own server on 127.0.0.1 delivering signed webhooks to a
running Townsquare, which answers through the outbox over HTTP. Public and private paths, and a
restart of Townsquare in the middle that loses and duplicates nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api_client import conversations, detail
from tests.conftest import LiveServer, Users, free_port, townsquare_server, wait_for
from tests.incidents_e2e.outage import connect_demo
from townsquare.channels.demo.network import DemoNetwork
from townsquare.channels.demo.payloads import DemoUser
from townsquare.config import Settings
from townsquare.runtime import Runtime

BRAND = DemoUser(id="u-acme", handle="acme", name="Acme Mobile", followers=48_000)
LENA = DemoUser(id="u-lena", handle="lena.hoffmann", name="Lena Hoffmann", followers=640)


@dataclass
class Setup:
    network: DemoNetwork
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def demo_network() -> Iterator[Setup]:
    network_port, townsquare_port = free_port(), free_port()
    network = DemoNetwork(f"http://127.0.0.1:{network_port}/demo-network", BRAND, "api-key", "hook-secret")
    network.subscribe(f"http://127.0.0.1:{townsquare_port}/webhooks/demo/acme")
    app = FastAPI()
    network.mount(app)
    with LiveServer(app, port=network_port):
        network.start()
        yield Setup(network, townsquare_port)
        network.stop()


def connect(runtime: Runtime, setup: Setup) -> None:
    connect_demo(runtime, setup.network)


def brand_posts(network: DemoNetwork) -> list[Any]:
    return [p for p in network.posts() if p.author.handle == "acme"]


def test_public_and_private_paths(settings: Settings, demo_network: Setup) -> None:
    runtime = Runtime.create(settings)
    connect(runtime, demo_network)
    users = Users(runtime)
    network = demo_network.network
    with townsquare_server(runtime, port=demo_network.port) as server:
        post = network.publish(LENA, "@acme seit drei Tagen kein Internet", lang="de")
        [conversation] = wait_for(lambda: conversations(server.url, users))  # type: ignore[misc]
        assert conversation["channel"] == "demo" and conversation["contact_name"] == "Lena Hoffmann"

        response = httpx.post(
            f"{server.url}/api/conversations/{conversation['id']}/replies",
            json={"text": "Das tut uns leid! Wir prüfen das.", "visibility": "public"},
            headers=users.headers("agent"),
        )
        assert response.status_code == 202, response.text
        [public_reply] = wait_for(lambda: brand_posts(network))  # type: ignore[misc]
        assert public_reply.in_reply_to == post.id and public_reply.visibility == "public"
        sent = wait_for(
            lambda: [
                r for r in detail(server.url, users, conversation["id"])["messages"] if r["direction"] == "outbound"
            ]
        )
        assert sent[0]["external_id"] == public_reply.id  # type: ignore[index]

        # The customer answers under the reply, then writes privately: one conversation.
        network.publish(LENA, "@acme geht immer noch nicht", in_reply_to=public_reply.id, lang="de")
        network.publish(LENA, "Meine Kundennummer ist 4711-2233", visibility="direct", recipient="acme", lang="de")
        wait_for(lambda: detail(server.url, users, conversation["id"])["message_count"] == 4)
        assert len(conversations(server.url, users)) == 1
        assert detail(server.url, users, conversation["id"])["has_private"]

        response = httpx.post(
            f"{server.url}/api/conversations/{conversation['id']}/replies",
            json={"text": "Danke, wir haben Ihren Vertrag gefunden.", "visibility": "private"},
            headers=users.headers("agent"),
        )
        assert response.status_code == 202
        direct = wait_for(lambda: [p for p in brand_posts(network) if p.visibility == "direct"])
        assert direct[0].recipient == "lena.hoffmann"  # type: ignore[index]
        public_timeline = httpx.get(f"{network.base_url}/").text
        assert "Das tut uns leid! Wir prüfen das." in public_timeline
        assert "Danke, wir haben Ihren Vertrag gefunden." not in public_timeline  # private stays private


def test_restart_loses_and_duplicates_nothing(settings: Settings, demo_network: Setup) -> None:
    network = demo_network.network
    first = Runtime.create(settings)
    connect(first, demo_network)
    users = Users(first)
    with townsquare_server(first, port=demo_network.port) as server:
        for index in range(5):
            network.publish(DemoUser(id=f"u{index}", handle=f"h{index}", name=f"N{index}"), f"@acme post {index}")
        wait_for(lambda: len(conversations(server.url, users)) == 5)
    # Townsquare is down: the network keeps retrying these deliveries.
    for index in range(5, 8):
        network.publish(DemoUser(id=f"u{index}", handle=f"h{index}", name=f"N{index}"), f"@acme post {index}")
    second = Runtime.create(settings)
    with townsquare_server(second, port=demo_network.port) as server:
        wait_for(lambda: len(conversations(server.url, users)) == 8, timeout=20)
        # A network that delivers the same post again (retries do that) changes nothing.
        post = network.posts()[0]
        network._deliver(post)
        network._deliver(post)
        wait_for(lambda: network._outgoing.empty())
        time.sleep(0.3)  # the last delivery is in flight after leaving the queue
        assert second.bus.drain(5)
        items = conversations(server.url, users)
        assert len(items) == 8
        assert sum(item["message_count"] for item in items) == 8
