"""What the outage tests share: the reports customers write, everyday traffic before the
outage, and the demo network on its own server."""

from __future__ import annotations

import random
from datetime import timedelta

from fastapi import FastAPI

from tests.conftest import LiveServer
from townsquare.channels.demo.network import DemoNetwork
from townsquare.channels.demo.payloads import DemoPost, DemoUser
from townsquare.channels.demo.scripts import OPENERS
from townsquare.clock import utcnow
from townsquare.model import AuthorIdentity, InboundMessage
from townsquare.runtime import Runtime
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
UPDATE = {
    "status": "identified",
    "body": "Mobile data is down in Berlin. Engineers are on it.",
    "customer_templates": {
        "de": "Hallo {name}, wir wissen von der Störung des mobilen Internets in Berlin und arbeiten daran: {status_url}",
        "en": "Hi {name}, we know about the mobile internet outage in Berlin and are on it: {status_url}",
    },
}
RESOLVED = {
    "status": "resolved",
    "body": "Mobile data in Berlin works again since 10:42.",
    "customer_templates": {
        "de": "Gute Nachrichten, {name}: es funktioniert wieder.",
        "en": "Good news, {name}: it works again.",
    },
}
EXPECTED = {"de": "wir wissen von der Störung", "en": "we know about the mobile internet outage"}


def usual_traffic() -> list[InboundMessage]:
    """Half a day of the demo network's everyday posts before the outage: the detector compares
    a burst with the usual volume of each topic."""
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


def demo_network(network_port: int, townsquare_port: int) -> tuple[DemoNetwork, LiveServer]:
    network = DemoNetwork(f"http://127.0.0.1:{network_port}/demo-network", BRAND, "api-key", "hook-secret")
    network.subscribe(f"http://127.0.0.1:{townsquare_port}/webhooks/demo/acme")
    app = FastAPI()
    network.mount(app)
    return network, LiveServer(app, port=network_port)


def connect_demo(runtime: Runtime, network: DemoNetwork) -> None:
    with runtime.db.write() as conn:
        accounts.upsert_account(
            conn,
            "demo",
            "acme",
            {"base_url": network.base_url, "handle": "acme", "api_key": "api-key", "webhook_secret": "hook-secret"},
        )


def brand_posts(network: DemoNetwork, *, top_level: bool = False) -> list[DemoPost]:
    posts = [p for p in network.posts() if p.author.handle == "acme"]
    if top_level:
        return [p for p in posts if p.in_reply_to is None and p.visibility == "public"]
    return [p for p in posts if p.in_reply_to is not None or p.visibility == "direct"]


def reply_to(network: DemoNetwork, post: DemoPost, handle: str) -> DemoPost | None:
    for candidate in brand_posts(network):
        if candidate.in_reply_to == post.id or (candidate.visibility == "direct" and candidate.recipient == handle):
            return candidate
    return None
