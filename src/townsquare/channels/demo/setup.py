"""Everything `townsquare demo` sets up: the demo network with its simulated customers, the
company's account on it (connected like any account), and demo users to sign in with."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from fastapi import FastAPI

from townsquare.actions import Actor
from townsquare.channels.demo.network import DemoNetwork
from townsquare.channels.demo.payloads import DemoUser
from townsquare.channels.demo.simulator import CustomerSimulator
from townsquare.model import Role
from townsquare.runtime import Runtime
from townsquare.store import accounts, users

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


def build_demo(runtime: Runtime, *, rate_per_minute: float, outage_every_seconds: float = 240.0) -> Demo:
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
    customers = CustomerSimulator(network, rate_per_minute=rate_per_minute, outage_every_seconds=outage_every_seconds)
    return Demo(network, customers)
