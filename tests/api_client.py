"""Talking to a running Townsquare's API in end-to-end tests, the way an agent's tools would."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from tests.conftest import Users


def conversations(base: str, users: Users, **params: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = httpx.get(
        f"{base}/api/conversations", params=params, headers=users.headers("viewer")
    ).json()["items"]
    return items


def detail(base: str, users: Users, conversation_id: str) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(
        f"{base}/api/conversations/{conversation_id}", headers=users.headers("viewer")
    ).json()
    return document


def all_messages(base: str, users: Users, **params: str) -> list[dict[str, Any]]:
    return [m for c in conversations(base, users, **params) for m in detail(base, users, c["id"])["messages"]]


def answer(base: str, users: Users, conversation_id: str, text: str, visibility: str = "public") -> str:
    response = httpx.post(
        f"{base}/api/conversations/{conversation_id}/replies",
        json={"text": text, "visibility": visibility},
        headers=users.headers("agent"),
    )
    assert response.status_code == 202, response.text
    reply_id: str = response.json()["reply_id"]
    return reply_id
