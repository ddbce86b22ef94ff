"""NUL characters in agents' free text (replies, notes, tags) are legal JSON but refused by
PostgreSQL: they must get a clean answer on both databases, never a 500."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Users
from tests.factories import message
from townsquare.runtime import Runtime


def test_free_text_with_nul_is_stored_without_it(client: TestClient, users: Users, runtime: Runtime) -> None:
    from townsquare.store import accounts

    with runtime.db.write() as conn:
        accounts.upsert_account(
            conn, "demo", "acme", {"base_url": "http://demo.test", "api_key": "k", "webhook_secret": "s"}
        )
    runtime.pipeline.process([message("a", text="@acme my bill is wrong")])
    agent = users.headers("agent")
    [conversation] = client.get("/api/conversations", headers=agent).json()["items"]
    url = f"/api/conversations/{conversation['id']}"
    reply = client.post(
        f"{url}/replies", json={"text": "Sorry\u0000, we are on it", "visibility": "private"}, headers=agent
    )
    assert reply.status_code == 202, reply.text
    note = client.post(f"{url}/notes", json={"body": "call\u0000 back"}, headers=agent)
    assert note.status_code == 201, note.text
    detail = client.get(url, headers=agent).json()
    assert "\u0000" not in str(detail)
    assert [n["body"] for n in detail["notes"]] == ["call back"]
