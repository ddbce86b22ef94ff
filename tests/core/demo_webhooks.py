"""Signed demo-network webhooks, built from the network's own payload models, for the bus tests."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection

from townsquare.channels.demo.payloads import SIGNATURE_HEADER, DemoPost, DemoUser, PostCreated
from townsquare.security.signatures import sign
from townsquare.store import accounts

WEBHOOK_SECRET = "hook-secret"
WEBHOOK_PATH = "/webhooks/demo/acme"


def connect_demo_account(conn: Connection) -> None:
    """The demo connector's account 'acme'; nothing is ever sent to its (unreachable) network."""
    accounts.upsert_account(
        conn,
        "demo",
        "acme",
        {
            "base_url": "http://127.0.0.1:9/demo-network",
            "handle": "acme",
            "api_key": "api-key",
            "webhook_secret": WEBHOOK_SECRET,
        },
    )


def post_created(post_id: str, text: str, author: str = "u-lena") -> tuple[bytes, dict[str, str]]:
    """Body and headers of one signed `post.created` delivery."""
    event = PostCreated(
        event="post.created",
        delivery_id=f"delivery-{post_id}",
        post=DemoPost(
            id=post_id,
            author=DemoUser(id=author, handle=f"{author}.handle", name="Lena Hoffmann", followers=640),
            text=text,
            visibility="public",
            created_at=datetime.now(UTC),
        ),
    )
    body = event.model_dump_json().encode()
    return body, {SIGNATURE_HEADER: sign(WEBHOOK_SECRET, body), "Content-Type": "application/json"}
