"""Everything `townsquare demo` sets up: the demo network with its simulated customers, the
company's account on it (connected like any account), and demo users to sign in with."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI

from townsquare.actions import Actor
from townsquare.channels.demo.network import DemoNetwork
from townsquare.channels.demo.payloads import DemoUser
from townsquare.channels.demo.scripts import OPENERS
from townsquare.channels.demo.simulator import CustomerSimulator
from townsquare.clock import utcnow
from townsquare.model import AuthorIdentity, InboundMessage, Role, Visibility
from townsquare.runtime import Runtime
from townsquare.store import accounts, audit, conversations, users

DEMO_PASSWORD = "townsquare-demo"  # noqa: S105 - printed for the demo on purpose
DEMO_USERS = (
    ("admin@example.com", "Ada Admin", Role.ADMIN),
    ("agent@example.com", "Alex Agent", Role.AGENT),
    ("viewer@example.com", "Vic Viewer", Role.VIEWER),
)
ACCOUNT = "acme"


@dataclass
class Demo:
    network: DemoNetwork
    customers: CustomerSimulator

    def mount(self, app: FastAPI) -> None:
        self.network.mount(app)

    def start(self) -> None:
        self.network.start()
        self.customers.start()

    def stop(self) -> None:
        self.customers.stop()
        self.network.stop()


def ensure_demo_users(runtime: Runtime) -> None:
    installer = Actor(id=None, label="townsquare demo", role=Role.ADMIN)
    for email, name, role in DEMO_USERS:
        with runtime.db.read() as conn:
            user = users.user_by_email(conn, email)
        if user is None:
            runtime.actions.create_user(installer, email=email, name=name, role=role, password=DEMO_PASSWORD)
        else:
            runtime.actions.update_user(installer, user["id"], role=role, active=True, password=DEMO_PASSWORD)


def seed_history(runtime: Runtime, *, hours: float = 6.0, rate_per_minute: float = 6.0, seed: int = 11) -> int:
    """Hours of everyday posts before the demo starts, from other customers, handled already.
    The inbox starts with a past, and the outage detector learns the usual volume of each topic
    (it compares a burst with that, as Downdetector compares with the usual time-of-day volume)."""
    rng = random.Random(seed)
    everyday = [line for line in OPENERS if line.kind != "outage"]
    first_names = ("Mia", "Noah", "Lea", "Paul", "Emma", "Finn", "Sofia", "Luis", "Hanna", "Elias", "Olivia", "Jack")
    last_names = ("Schmidt", "Brown", "Weber", "Smith", "Koch", "Wilson", "Wolf", "Taylor", "Richter", "Evans")
    count = int(hours * 60 * rate_per_minute)
    start = utcnow() - timedelta(hours=hours)
    messages = []
    for index in range(count):
        line = rng.choice(everyday)
        person = rng.randrange(300)
        name = f"{first_names[person % len(first_names)]} {last_names[person % len(last_names)]}"
        messages.append(
            InboundMessage(
                channel="demo",
                account=ACCOUNT,
                external_id=f"history-{index}",
                author=AuthorIdentity(
                    external_id=f"history-{person}",
                    handle=f"{name.split()[0].lower()}{person}",
                    display_name=name,
                    reach=rng.randrange(2000),
                ),
                text=line.text,
                language=line.lang,
                visibility=Visibility.PRIVATE if line.private else Visibility.PUBLIC,
                created_at=start + timedelta(seconds=index * 60 / rate_per_minute),
            )
        )
    runtime.pipeline.process(messages)
    with runtime.db.write() as conn:
        resolved = conversations.resolve_quiet_before(conn, utcnow())
        audit.record(
            conn,
            actor_id=None,
            actor_label="townsquare demo",
            action="conversation.bulk_resolve",
            target_type="conversation",
            target_id="*",
            details={"count": resolved, "reason": "history"},
        )
    return count


def build_demo(
    runtime: Runtime, *, rate_per_minute: float, outage_every_seconds: float = 300.0, history_hours: float = 0.0
) -> Demo:
    base_url = runtime.settings.public_url.rstrip("/")
    api_key, webhook_secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    brand = DemoUser(id="u-acme", handle=ACCOUNT, name="Acme Mobile", followers=48_000)
    network = DemoNetwork(f"{base_url}/demo-network", brand, api_key, webhook_secret)
    network.subscribe(f"{base_url}/webhooks/demo/{ACCOUNT}")
    with runtime.db.write() as conn:
        accounts.upsert_account(
            conn,
            "demo",
            ACCOUNT,
            {
                "base_url": f"{base_url}/demo-network",
                "handle": ACCOUNT,
                "api_key": api_key,
                "webhook_secret": webhook_secret,
            },
        )
    runtime.hub.forget("demo", ACCOUNT)
    ensure_demo_users(runtime)
    if history_hours > 0:
        seed_history(runtime, hours=history_hours, rate_per_minute=max(rate_per_minute, 1.0))
    customers = CustomerSimulator(network, rate_per_minute=rate_per_minute, outage_every_seconds=outage_every_seconds)
    return Demo(network, customers)
