"""The whole outage loop against the demo network on its own server: a burst of reports becomes
one incident; one update answers every customer in their channel and language (public under
their post, private where they wrote privately); resolving tells everyone; the public status
page (HTML, JSON, Atom) shows the timeline; alert webhooks are signed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from tests.conftest import LiveServer, Users, free_port, townsquare_server, wait_for
from tests.incidents_e2e.outage import (
    EXPECTED,
    REPORTS,
    RESOLVED,
    UPDATE,
    brand_posts,
    connect_demo,
    demo_network,
    reply_to,
    usual_traffic,
)
from townsquare.channels.demo.payloads import DemoPost, DemoUser
from townsquare.config import AlertWebhook, Settings
from townsquare.runtime import Runtime
from townsquare.security.signatures import sign

CALM = [
    "@acme how do I activate roaming before my trip to Spain?",
    "@acme danke für die schnelle Hilfe gestern!",
    "@acme can I get the new phone without a down payment?",
]


BURST = 16


@pytest.fixture
def alert_receiver() -> Iterator[tuple[str, list[tuple[bytes, str]]]]:
    received: list[tuple[bytes, str]] = []
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> dict[str, bool]:
        received.append((await request.body(), request.headers.get("x-townsquare-signature", "")))
        return {"ok": True}

    with LiveServer(app) as server:
        yield f"{server.url}/hook", received


def test_burst_incident_mass_reply_resolution_and_status_page(
    sqlite_url: str, alert_receiver: tuple[str, list[tuple[bytes, str]]]
) -> None:
    hook_url, alerts = alert_receiver
    network_port, port = free_port(), free_port()
    network, network_server = demo_network(network_port, port)
    settings = Settings(
        database_url=sqlite_url,
        triage="off",
        public_url=f"http://127.0.0.1:{port}",
        status_accounts=["demo/acme"],
        alert_webhooks=[AlertWebhook(url=hook_url, secret="alert-secret")],
    )
    runtime = Runtime.create(settings)
    connect_demo(runtime, network)
    users = Users(runtime)
    agent = users.headers("agent")
    runtime.pipeline.process(usual_traffic())  # the detector compares with the usual volume of each topic
    with network_server, townsquare_server(runtime, port=port) as server:
        network.start()
        for index, text in enumerate(CALM):
            network.publish(DemoUser(id=f"calm{index}", handle=f"calm{index}", name=f"Calm {index}"), text)
        customers: dict[str, tuple[str, DemoPost]] = {}
        for index in range(BURST):
            lang, text = REPORTS[index % len(REPORTS)]
            person = DemoUser(id=f"r{index}", handle=f"reporter{index}", name=f"Reporter {index}")
            private = index == 3  # one customer writes privately
            post = network.publish(
                person,
                text,
                lang=lang,
                visibility="direct" if private else "public",
                recipient="acme" if private else None,
            )
            customers[person.handle] = (lang, post)

        [incident] = wait_for(lambda: httpx.get(f"{server.url}/api/incidents", headers=agent).json())  # type: ignore[misc]
        assert incident["status"] == "suspected"
        assert "berlin" in " ".join(incident["terms"]).lower() or "internet" in " ".join(incident["terms"]).lower()
        wait_for(lambda: _detail(server.url, agent, incident["id"])["conversation_count"] >= BURST - 2)
        detail = _detail(server.url, agent, incident["id"])
        grouped_subjects = " ".join(c["subject"] for c in detail["conversations"])
        assert not any(calm[6:30] in grouped_subjects for calm in CALM)  # unrelated posts stay out

        response = httpx.post(f"{server.url}/api/incidents/{incident['id']}/updates", json=UPDATE, headers=agent)
        assert response.status_code == 201, response.text
        grouped = _detail(server.url, agent, incident["id"])["conversations"]
        wait_for(lambda: len(brand_posts(network)) >= len(grouped), timeout=20)
        for handle, (lang, post) in customers.items():
            if not any(c["contact_name"].endswith(handle[-1]) for c in grouped):
                continue
            reply = reply_to(network, post, handle)
            assert reply is not None, f"{handle} got no answer"
            assert EXPECTED[lang] in reply.text
            if post.visibility == "direct":
                assert reply.visibility == "direct" and reply.recipient == handle
            else:
                assert reply.visibility == "public" and reply.in_reply_to == post.id
        # The update was also posted from the company's own account, linking to the status page.
        wait_for(lambda: [p for p in brand_posts(network, top_level=True) if "/status/incidents/" in p.text])

        assert (
            httpx.post(f"{server.url}/api/incidents/{incident['id']}/updates", json=RESOLVED, headers=agent).status_code
            == 201
        )
        wait_for(
            lambda: (
                len(
                    [
                        p
                        for p in brand_posts(network)
                        if "it works again" in p.text or "es funktioniert wieder" in p.text
                    ]
                )
                >= len(grouped)
            ),
            timeout=20,
        )
        assert _detail(server.url, agent, incident["id"])["status"] == "resolved"

        page = httpx.get(f"{server.url}/status").text
        assert "Mobile data is down in Berlin" in page and "works again" in page
        summary = httpx.get(f"{server.url}/status.json").json()
        assert summary["status"]["indicator"] == "none" and summary["incidents"] == []  # resolved
        history = httpx.get(f"{server.url}/status/incidents/{incident['id']}").text
        assert history.index("works again") < history.index("Engineers are on it")  # newest first
        atom = httpx.get(f"{server.url}/status.atom")
        assert atom.headers["content-type"].startswith("application/atom+xml")
        assert atom.text.count("<entry>") == 2

    kinds = []
    for body, signature in alerts:
        assert signature == sign("alert-secret", body)
        kinds.append(json.loads(body)["event"])
    assert "incident.opened" in kinds and "incident.resolved" in kinds


def _detail(base: str, headers: dict[str, str], incident_id: str) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(f"{base}/api/incidents/{incident_id}", headers=headers).json()
    return document
