"""The incident forms of the agent app: add a conversation to an open incident from its page,
merge two incidents, publish an update; all with the session's CSRF token."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import ADMIN, Users
from tests.factories import message
from townsquare.runtime import Runtime
from townsquare.store import accounts
from townsquare.store import conversations as convs
from townsquare.store import incidents as store


def csrf_of(html: str) -> str:
    return html.split('name="csrf" value="')[1].split('"')[0]


def sign_in(client: TestClient) -> str:
    """Signs in and returns the new session's CSRF token (signing in starts a fresh session)."""
    client.post(
        "/login",
        data={
            "email": "agent@example.com",
            "password": "correct horse battery",
            "csrf": csrf_of(client.get("/login").text),
        },
    )
    return csrf_of(client.get("/inbox").text)


def test_add_merge_and_update_from_the_pages(client: TestClient, users: Users, runtime: Runtime) -> None:
    runtime.pipeline.process(
        [
            message("a", author="u1", text="@acme Netz weg", language="de"),
            message("b", author="u2", text="@acme network down", language="en"),
        ]
    )
    with runtime.db.write() as conn:
        accounts.upsert_account(
            conn, "demo", "acme", {"base_url": "http://demo.test", "api_key": "k", "webhook_secret": "s"}
        )
        first_id, second_id = (row["id"] for row in convs.list_conversations(conn, convs.ConversationFilter())[0])
    keep = runtime.incident_actions.create(ADMIN, "Mobile data down", [first_id])
    other = runtime.incident_actions.create(ADMIN, "Network down (duplicate)", [])
    csrf = sign_in(client)

    page = client.get(f"/conversations/{second_id}").text
    assert "Add to incident" in page
    assert (
        client.post(
            f"/conversations/{second_id}/incident", data={"incident_id": other, "csrf": "wrong"}, follow_redirects=False
        ).status_code
        == 303
    )
    with runtime.db.read() as conn:
        assert store.get_incident(conn, other)["conversation_count"] == 0  # type: ignore[index]  # bad CSRF
    client.post(f"/conversations/{second_id}/incident", data={"incident_id": other, "csrf": csrf})
    print(client.get(f"/conversations/{second_id}").text[:3000])
    assert "part of an open incident" in client.get(f"/conversations/{second_id}").text

    assert "Merge into this incident" in client.get(f"/incidents/{keep}").text
    client.post(f"/incidents/{keep}/merge", data={"merge_incident_id": other, "csrf": csrf})
    client.post(
        f"/incidents/{keep}/update",
        data={
            "status": "identified",
            "body": "Engineers are on it.",
            "reply_de": "Hallo {name}, wir sind dran.",
            "reply_en": "Hi {name}, we are on it.",
            "csrf": csrf,
        },
    )
    with runtime.db.read() as conn:
        assert store.get_incident(conn, keep)["conversation_count"] == 2  # type: ignore[index]
        assert store.get_incident(conn, other)["merged_into"] == keep  # type: ignore[index]
        texts = sorted(r["text"] for cid in (first_id, second_id) for r in convs.replies_of(conn, cid))
    assert texts == ["Hallo User u1, wir sind dran.", "Hi User u2, we are on it."]


def test_split_move_and_remove_ticked_conversations(client: TestClient, users: Users, runtime: Runtime) -> None:
    runtime.pipeline.process(
        [message(f"m{n}", author=f"u{n}", text=f"@acme network down {n}", language="en") for n in range(4)]
    )
    with runtime.db.read() as conn:
        ids = [row["id"] for row in convs.list_conversations(conn, convs.ConversationFilter())[0]]
    outage = runtime.incident_actions.create(ADMIN, "Network down", ids)
    other = runtime.incident_actions.create(ADMIN, "Billing page broken", [])
    csrf = sign_in(client)

    page = client.get(f"/incidents/{outage}").text
    assert "Split into a new incident" in page and page.count('form="selected" name="conversation_ids"') == 4
    split = client.post(
        f"/incidents/{outage}/selected",
        data={"do": "split", "conversation_ids": ids[:2], "split_title": "Only Berlin", "csrf": csrf},
        follow_redirects=False,
    )
    assert split.status_code == 303 and split.headers["location"] != f"/incidents/{outage}"
    new_id = split.headers["location"].rsplit("/", 1)[1]
    client.post(
        f"/incidents/{outage}/selected",
        data={"do": "move", "conversation_ids": [ids[2]], "target_incident_id": other, "csrf": csrf},
    )
    client.post(f"/incidents/{outage}/selected", data={"do": "remove", "conversation_ids": [ids[3]], "csrf": "forged"})
    with runtime.db.read() as conn:
        assert store.get_incident(conn, new_id)["title"] == "Only Berlin"  # type: ignore[index]
        assert store.get_incident(conn, new_id)["conversation_count"] == 2  # type: ignore[index]
        assert store.get_incident(conn, other)["conversation_count"] == 1  # type: ignore[index]
        assert store.get_incident(conn, outage)["conversation_count"] == 1  # type: ignore[index]  # forged CSRF
    refused = client.post(f"/incidents/{outage}/selected", data={"do": "split", "csrf": csrf})
    assert "choose the conversations" in refused.text

    # Each row's Remove button sends the same form with just its conversation.
    row_form = (
        f'name="conversation_ids" value="{ids[3]}"><button class="link-dark" type="submit" name="do" value="remove"'
    )
    assert row_form in client.get(f"/incidents/{outage}").text
    client.post(f"/incidents/{outage}/selected", data={"do": "remove", "conversation_ids": ids[3], "csrf": csrf})
    with runtime.db.read() as conn:
        assert store.get_incident(conn, outage)["conversation_count"] == 0  # type: ignore[index]
    assert client.post(f"/incidents/{outage}/selected", data={"do": "explode", "csrf": csrf}).status_code == 422


def test_the_board_says_while_detection_is_still_learning(client: TestClient, users: Users, runtime: Runtime) -> None:
    sign_in(client)
    assert "has learned from 0.0 hours" in client.get("/incidents").text
    runtime.pipeline.process(
        [message(f"h{n}", author=f"u{n}", text=f"@acme my app crashes {n}", minutes=60 * n) for n in range(30)]
    )
    runtime.pipeline.close()  # saves the detector's state, as a stopping worker does
    assert "detector-learning" not in client.get("/incidents").text
