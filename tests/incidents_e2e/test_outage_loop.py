"""The whole outage loop against the demo network on its own server: a burst of reports becomes
one incident; one update answers every customer in their channel and language (public under
their post, private where they wrote privately); resolving tells everyone; the public status
page (HTML, JSON, Atom) shows the timeline; alert webhooks are signed."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from tests.conftest import LiveServer, Users, free_port, townsquare_server, wait_for
from townsquare.channels.demo.network import DemoNetwork
from townsquare.channels.demo.payloads import DemoPost, DemoUser
from townsquare.channels.demo.scripts import OPENERS
from townsquare.clock import utcnow
from townsquare.config import AlertWebhook, Settings
from townsquare.model import AuthorIdentity, InboundMessage
from townsquare.runtime import Runtime
from townsquare.security.signatures import sign
from townsquare.store import accounts

BRAND = DemoUser(id="u-acme", handle="acme", name="Acme Mobile", followers=48_000)
REPORTS = [
    ("de", "@acme Netz weg? Kein mobiles Internet mehr in Berlin"),
    ("en", "is @acme down?? no mobile internet at all in Berlin"),
    ("de", "@acme Störung? Mobiles Internet geht seit 10 Minuten nicht, Berlin"),
    ("en", "@acme mobile internet not working in Berlin, is it just me?"),
    ("de", "Ist bei @acme gerade eine Störung? Kein Internet am Handy in Berlin"),
    ("en", "@acme no mobile internet here in Berlin either, outage?"),
    ("de", "@acme Totalausfall mobiles Internet in Berlin. Bei euch auch?"),
    ("en", "@acme mobile internet down in Berlin since 15 min"),
]
CALM = [
    "@acme how do I activate roaming before my trip to Spain?",
    "@acme danke für die schnelle Hilfe gestern!",
    "@acme can I get the new phone without a down payment?",
]


BURST = 16


def usual_traffic() -> list[InboundMessage]:
    """Half a day of the demo network's everyday posts, before the outage."""
    rng = random.Random(3)
    start = utcnow() - timedelta(hours=12)
    return [
        InboundMessage(
            channel="demo",
            account="acme",
            external_id=f"usual-{index}",
            author=AuthorIdentity(external_id=f"usual-{rng.randrange(300)}", handle="someone"),
            text=rng.choice(OPENERS).text,
            created_at=start + timedelta(seconds=70 * index),
        )
        for index in range(600)
    ]


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
    network = DemoNetwork(f"http://127.0.0.1:{network_port}/demo-network", BRAND, "api-key", "hook-secret")
    network.subscribe(f"http://127.0.0.1:{port}/webhooks/demo/acme")
    network_app = FastAPI()
    network.mount(network_app)
    settings = Settings(
        database_url=sqlite_url,
        triage="off",
        public_url=f"http://127.0.0.1:{port}",
        status_accounts=["demo/acme"],
        alert_webhooks=[AlertWebhook(url=hook_url, secret="alert-secret")],
    )
    runtime = Runtime.create(settings)
    with runtime.db.write() as conn:
        accounts.upsert_account(
            conn,
            "demo",
            "acme",
            {"base_url": network.base_url, "handle": "acme", "api_key": "api-key", "webhook_secret": "hook-secret"},
        )
    users = Users(runtime)
    agent = users.headers("agent")
    runtime.pipeline.process(usual_traffic())  # the detector compares with the usual volume of each topic
    with LiveServer(network_app, port=network_port), townsquare_server(runtime, port=port) as server:
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

        update = {
            "status": "identified",
            "body": "Mobile data is down in Berlin. Engineers are on it.",
            "customer_templates": {
                "de": "Hallo {name}, wir wissen von der Störung des mobilen Internets in Berlin und arbeiten "
                "daran: {status_url}",
                "en": "Hi {name}, we know about the mobile internet outage in Berlin and are on it: {status_url}",
            },
        }
        response = httpx.post(f"{server.url}/api/incidents/{incident['id']}/updates", json=update, headers=agent)
        assert response.status_code == 201, response.text
        grouped = _detail(server.url, agent, incident["id"])["conversations"]
        wait_for(lambda: len(_brand_replies(network)) >= len(grouped), timeout=20)
        for handle, (lang, post) in customers.items():
            if not any(c["contact_name"].endswith(handle[-1]) for c in grouped):
                continue
            reply = _reply_to(network, post, handle)
            assert reply is not None, f"{handle} got no answer"
            expected = "wir wissen von der Störung" if lang == "de" else "we know about the mobile internet outage"
            assert expected in reply.text
            if post.visibility == "direct":
                assert reply.visibility == "direct" and reply.recipient == handle
            else:
                assert reply.visibility == "public" and reply.in_reply_to == post.id
        # The update was also posted from the company's own account, linking to the status page.
        wait_for(lambda: [p for p in _brand_replies(network, top_level=True) if "/status/incidents/" in p.text])

        resolved = {
            "status": "resolved",
            "body": "Mobile data in Berlin works again since 10:42.",
            "customer_templates": {
                "de": "Gute Nachrichten, {name}: es funktioniert wieder.",
                "en": "Good news, {name}: it works again.",
            },
        }
        assert (
            httpx.post(f"{server.url}/api/incidents/{incident['id']}/updates", json=resolved, headers=agent).status_code
            == 201
        )
        wait_for(
            lambda: (
                len(
                    [
                        p
                        for p in _brand_replies(network)
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


def _brand_replies(network: DemoNetwork, top_level: bool = False) -> list[DemoPost]:
    posts = [p for p in network.posts() if p.author.handle == "acme"]
    if top_level:
        return [p for p in posts if p.in_reply_to is None and p.visibility == "public"]
    return [p for p in posts if p.in_reply_to is not None or p.visibility == "direct"]


def _reply_to(network: DemoNetwork, post: DemoPost, handle: str) -> DemoPost | None:
    for candidate in _brand_replies(network):
        if candidate.in_reply_to == post.id or (candidate.visibility == "direct" and candidate.recipient == handle):
            return candidate
    return None
