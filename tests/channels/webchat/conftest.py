"""Fixtures of the web chat tests: a runtime on SQLite with a connected web chat account."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from townsquare.config import Settings
from townsquare.runtime import Runtime
from townsquare.store import accounts

ACCOUNT = "acme"
SITE = "https://www.acme.example"


def connect_webchat(runtime: Runtime, account: str = ACCOUNT, **settings: Any) -> None:
    values: dict[str, Any] = {"allowed_origins": [SITE], "title": "Acme support", "team_name": "Acme team"}
    values.update(settings)
    with runtime.db.write() as conn:
        accounts.upsert_account(conn, "webchat", account, values)
    runtime.hub.forget("webchat", account)


@pytest.fixture
def webchat_runtime(sqlite_url: str) -> Iterator[Runtime]:
    runtime = Runtime.create(
        Settings(
            database_url=sqlite_url,
            triage="off",
            secret_key="webchat-test-secret-0123456789",
            public_url="http://townsquare.test",
            outbox_poll_seconds=0.05,
        )
    )
    connect_webchat(runtime)
    yield runtime
    runtime.stop()
