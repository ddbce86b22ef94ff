"""The conversation API: list, filter, search, read, act; bad bodies get clear 4xx answers."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Users
from tests.factories import message
from townsquare.runtime import Runtime


def _ids(client: TestClient, users: Users, query: str = "") -> list[str]:
    response = client.get(f"/api/conversations{query}", headers=users.headers("viewer"))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_list_filter_search_and_read(client: TestClient, users: Users, runtime: Runtime) -> None:
    runtime.pipeline.process(
        [
            message("a", author="u1", text="Kein Internet seit heute früh", language="de"),
            message("b", author="u2", text="How do I activate roaming?", language="en"),
            message("c", author="u3", text="DM with details", private=True, channel="mastodon"),
        ]
    )
    assert len(_ids(client, users)) == 3
    assert len(_ids(client, users, "?language=de")) == 1
    assert len(_ids(client, users, "?channel=mastodon")) == 1
    assert len(_ids(client, users, "?q=roaming")) == 1
    assert len(_ids(client, users, "?status=new&status=open")) == 3
    assert _ids(client, users, "?status=resolved") == []
    conversation_id = _ids(client, users, "?q=roaming")[0]
    detail = client.get(f"/api/conversations/{conversation_id}", headers=users.headers("viewer")).json()
    assert detail["messages"][0]["text"] == "How do I activate roaming?"
    assert detail["contact_name"] == "User u2"


def test_assign_tag_note_and_filters(client: TestClient, users: Users, runtime: Runtime) -> None:
    runtime.pipeline.process([message("a", author="u1"), message("b", author="u2")])
    first = _ids(client, users)[0]
    agent = users.headers("agent")
    assert (
        client.put(
            f"/api/conversations/{first}/assignee", json={"assignee_id": users.ids["agent"]}, headers=agent
        ).status_code
        == 204
    )
    assert client.post(f"/api/conversations/{first}/tags", json={"tag": "Outage"}, headers=agent).status_code == 204
    assert _ids(client, users, "?tag=outage") == [first]
    assert _ids(client, users, f"?assignee={users.ids['agent']}") == [first]
    assert len(_ids(client, users, "?assignee=none")) == 1
    me = client.get("/api/conversations?assignee=me", headers=agent).json()["items"]
    assert [c["id"] for c in me] == [first]
    assert me[0]["status"] == "open"  # assigning a new conversation opens it
    assert client.post(f"/api/conversations/{first}/notes", json={"body": "VIP"}, headers=agent).status_code == 201
    detail = client.get(f"/api/conversations/{first}", headers=agent).json()
    assert detail["notes"][0]["body"] == "VIP"
    assert client.delete(f"/api/conversations/{first}/tags/outage", headers=agent).status_code == 204
    assert _ids(client, users, "?tag=outage") == []


def test_cursor_pagination_over_the_api(client: TestClient, users: Users, runtime: Runtime) -> None:
    runtime.pipeline.process([message(f"m{i}", author=f"u{i}", minutes=i) for i in range(7)])
    page = client.get("/api/conversations?limit=3", headers=users.headers("viewer")).json()
    seen = [c["id"] for c in page["items"]]
    while page["next_cursor"]:
        page = client.get(
            f"/api/conversations?limit=3&cursor={page['next_cursor']}", headers=users.headers("viewer")
        ).json()
        seen += [c["id"] for c in page["items"]]
    assert len(seen) == len(set(seen)) == 7


def test_contacts_and_merge(client: TestClient, users: Users, runtime: Runtime) -> None:
    runtime.pipeline.process([message("a", author="u1", channel="demo"), message("b", author="u1", channel="mastodon")])
    agent = users.headers("agent")
    contacts = client.get("/api/contacts", headers=agent).json()
    assert len(contacts) == 2
    keep, other = contacts[0]["id"], contacts[1]["id"]
    assert (
        client.patch(f"/api/contacts/{keep}", json={"customer": {"customer_number": "K-1"}}, headers=agent).status_code
        == 204
    )
    assert (
        client.post(f"/api/contacts/{keep}/merge", json={"merge_contact_id": other}, headers=agent).status_code == 204
    )
    merged = client.get(f"/api/contacts/{keep}", headers=agent).json()
    assert {i["channel"] for i in merged["identities"]} == {"demo", "mastodon"}
    assert merged["customer"] == {"customer_number": "K-1"}
    assert client.get(f"/api/contacts/{other}", headers=agent).status_code == 404
    assert len(_ids(client, users, f"?contact={keep}")) == 2
    # A message from the merged identity now lands with the kept contact.
    runtime.pipeline.process([message("c", author="u1", channel="mastodon", minutes=3)])
    assert len(client.get("/api/contacts", headers=agent).json()) == 1


def test_malformed_bodies_get_clear_4xx(client: TestClient, users: Users, runtime: Runtime) -> None:
    runtime.pipeline.process([message("a")])
    conversation_id = _ids(client, users)[0]
    agent = {**users.headers("agent"), "Content-Type": "application/json"}
    url = f"/api/conversations/{conversation_id}"
    cases = [
        (f"{url}/status", b"{not json"),
        (f"{url}/status", b'{"status": "exploded"}'),
        (f"{url}/status", b"[]"),
        (f"{url}/status", b'{"status": "open", "extra": 1}'),
        (f"{url}/replies", b'{"text": ""}'),
        (f"{url}/replies", b'{"text": "x", "visibility": "shouting"}'),
        (f"{url}/tags", b'{"tag": null}'),
        ("/api/users", b'{"email": "not-an-email", "name": "x"}'),
    ]
    for path, body in cases:
        method = client.put if path.endswith("/status") else client.post
        response = method(
            path,
            content=body,
            headers=agent if "users" not in path else {**users.headers("admin"), "Content-Type": "application/json"},
        )
        assert 400 <= response.status_code < 500, (path, body, response.status_code)
        assert response.json()["detail"], (path, body)
        detail = response.json()["detail"]
        if isinstance(detail, list):  # validation errors say where and what, never echo the input
            assert all(set(problem) == {"loc", "msg", "type"} for problem in detail)
    assert client.get("/api/conversations?cursor=garbage", headers=agent).status_code == 400
    assert client.get("/api/conversations?limit=0", headers=agent).status_code == 422
    assert client.get("/api/conversations/nope", headers=agent).status_code == 404
    too_big = b'{"body": "' + b"x" * 1_100_000 + b'"}'
    assert client.post(f"{url}/notes", content=too_big, headers=agent).status_code == 413


def test_customer_html_is_stored_as_is_and_rendered_escaped(client: TestClient, users: Users, runtime: Runtime) -> None:
    hostile = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    runtime.pipeline.process([message("x", author="evil", text=hostile)])
    conversation_id = _ids(client, users)[0]
    api = client.get(f"/api/conversations/{conversation_id}", headers=users.headers("viewer")).json()
    assert api["messages"][0]["text"] == hostile  # stored exactly as written
    page = client.get("/login").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    client.post("/login", data={"email": "agent@example.com", "password": "correct horse battery", "csrf": csrf})
    for html in (client.get("/inbox").text, client.get(f"/conversations/{conversation_id}").text):
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def test_public_reply_guard_refuses_personal_data_and_offers_private(
    client: TestClient, users: Users, runtime: Runtime
) -> None:
    from townsquare.store import accounts

    with runtime.db.write() as conn:
        accounts.upsert_account(
            conn, "demo", "acme", {"base_url": "http://demo.test", "api_key": "k", "webhook_secret": "s"}
        )
    runtime.pipeline.process([message("a", text="@acme my bill is wrong")])
    conversation_id = _ids(client, users)[0]
    agent = users.headers("agent")
    leaky = {"text": "We called you on +49 151 23456789 and sent the invoice to anna.keller@example.com"}
    refused = client.post(
        f"/api/conversations/{conversation_id}/replies", json={**leaky, "visibility": "public"}, headers=agent
    )
    assert refused.status_code == 422
    body = refused.json()
    assert set(body["personal_data"]) == {"email", "phone"}
    assert body["suggestion"] == "visibility=private"
    assert "private message on demo" in body["detail"]
    accepted = client.post(
        f"/api/conversations/{conversation_id}/replies", json={**leaky, "visibility": "private"}, headers=agent
    )
    assert accepted.status_code == 202
    harmless = client.post(
        f"/api/conversations/{conversation_id}/replies",
        json={"text": "Sorry! We are looking into it.", "visibility": "public"},
        headers=agent,
    )
    assert harmless.status_code == 202
