"""Authentication and roles: nothing but the health check answers without credentials; viewers
read, agents act, admins manage users and tokens."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Users
from tests.factories import message
from townsquare.runtime import Runtime


def test_health_answers_without_authentication(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize(
    "path",
    [
        "/api/conversations",
        "/api/contacts",
        "/api/users",
        "/api/audit",
        "/api/teams",
        "/api/incidents",
        "/api/components",
        "/api/events",
        "/openapi.json",
    ],
)
def test_api_needs_credentials(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_wrong_and_malformed_tokens_are_refused(client: TestClient, users: Users) -> None:
    assert client.get("/api/conversations", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/conversations", headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.get("/api/conversations", headers={"Authorization": "Bearer "}).status_code == 401


def test_revoked_token_and_deactivated_user_are_refused(client: TestClient, users: Users) -> None:
    admin = users.headers("admin")
    created = client.post(f"/api/users/{users.ids['agent']}/tokens", json={"name": "ci"}, headers=admin).json()
    token = {"Authorization": f"Bearer {created['token']}"}
    assert client.get("/api/conversations", headers=token).status_code == 200
    assert client.delete(f"/api/tokens/{created['id']}", headers=admin).status_code == 204
    assert client.get("/api/conversations", headers=token).status_code == 401
    assert client.patch(f"/api/users/{users.ids['agent']}", json={"active": False}, headers=admin).status_code == 204
    assert client.get("/api/conversations", headers=users.headers("agent")).status_code == 401


def test_roles(client: TestClient, users: Users, runtime: Runtime) -> None:
    runtime.pipeline.process([message("m1")])
    conversation_id = client.get("/api/conversations", headers=users.headers("viewer")).json()["items"][0]["id"]
    status_body = {"status": "resolved"}
    assert (
        client.put(
            f"/api/conversations/{conversation_id}/status", json=status_body, headers=users.headers("viewer")
        ).status_code
        == 403
    )
    assert (
        client.put(
            f"/api/conversations/{conversation_id}/status", json=status_body, headers=users.headers("agent")
        ).status_code
        == 204
    )
    assert client.get("/api/users", headers=users.headers("agent")).status_code == 403
    assert client.get("/api/users", headers=users.headers("admin")).status_code == 200
    new_user = {"email": "new@example.com", "name": "New", "role": "agent", "password": "long enough pw"}
    assert client.post("/api/users", json=new_user, headers=users.headers("agent")).status_code == 403
    assert client.post("/api/users", json=new_user, headers=users.headers("admin")).status_code == 201
    assert client.post("/api/users", json=new_user, headers=users.headers("admin")).status_code == 409


def test_every_state_change_is_audited_with_who(client: TestClient, users: Users, runtime: Runtime) -> None:
    runtime.pipeline.process([message("m1")])
    conversation_id = client.get("/api/conversations", headers=users.headers("agent")).json()["items"][0]["id"]
    agent = users.headers("agent")
    client.put(
        f"/api/conversations/{conversation_id}/assignee", json={"assignee_id": users.ids["agent"]}, headers=agent
    )
    client.post(f"/api/conversations/{conversation_id}/tags", json={"tag": "Billing"}, headers=agent)
    client.post(f"/api/conversations/{conversation_id}/notes", json={"body": "called back"}, headers=agent)
    client.put(f"/api/conversations/{conversation_id}/status", json={"status": "resolved"}, headers=agent)
    entries = client.get(f"/api/audit?target_id={conversation_id}", headers=users.headers("admin")).json()
    assert [e["action"] for e in reversed(entries)] == [
        "conversation.assign",
        "conversation.tag",
        "conversation.note",
        "conversation.status",
    ]
    assert {e["actor_label"] for e in entries} == {"agent@example.com"}


def test_web_login_with_password_and_csrf(client: TestClient, users: Users) -> None:
    assert client.get("/inbox", follow_redirects=False).headers["location"].startswith("/login")
    page = client.get("/login").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    wrong = client.post("/login", data={"email": "agent@example.com", "password": "wrong", "csrf": csrf})
    assert wrong.status_code == 401
    assert "Wrong e-mail or password" in wrong.text
    no_csrf = client.post("/login", data={"email": "agent@example.com", "password": "correct horse battery"})
    assert no_csrf.status_code == 400
    ok = client.post(
        "/login",
        data={"email": "agent@example.com", "password": "correct horse battery", "csrf": csrf},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert client.get("/inbox").status_code == 200
    # The session cookie works for the API too, but state changes need the CSRF header.
    assert client.get("/api/conversations").status_code == 200
    assert client.post("/api/teams", json={"name": "x"}).status_code == 403


def test_api_description_for_signed_in_users(client: TestClient, users: Users) -> None:
    document = client.get("/openapi.json", headers=users.headers("viewer")).json()
    assert "/api/conversations" in document["paths"] and "/api/incidents/{incident_id}/updates" in document["paths"]
    assert client.get("/docs", follow_redirects=False).headers["location"] == "/login?next=/docs"


def test_what_answers_without_login(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/status").status_code == 200  # the public status page
    assert client.get("/status.json").status_code == 200
    assert client.get("/login").status_code == 200
    assert client.get("/inbox", follow_redirects=False).status_code == 303
    assert client.get("/incidents", follow_redirects=False).status_code == 303
    assert client.get("/channels", follow_redirects=False).status_code == 303
