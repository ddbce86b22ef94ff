"""The incident endpoints of the REST API: grouping by hand (create, add, move, split, merge,
remove) and the lifecycle, each as the named action with the caller's role checked."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Users
from tests.factories import message
from townsquare.runtime import Runtime
from townsquare.store import conversations as convs


def test_grouping_by_hand_through_the_api(client: TestClient, users: Users, runtime: Runtime) -> None:
    runtime.pipeline.process(
        [message(f"m{n}", author=f"u{n}", text=f"@acme app crashes {n}", language="en") for n in range(4)]
    )
    with runtime.db.read() as conn:
        ids = [row["id"] for row in convs.list_conversations(conn, convs.ConversationFilter())[0]]
    agent, viewer = users.headers("agent"), users.headers("viewer")

    def count(incident_id: str) -> int:
        return int(client.get(f"/api/incidents/{incident_id}", headers=agent).json()["conversation_count"])

    created = client.post("/api/incidents", json={"title": "App crashes", "conversation_ids": ids[:3]}, headers=agent)
    assert created.status_code == 201
    crash = created.json()["id"]
    login = client.post("/api/incidents", json={"title": "Login fails"}, headers=agent).json()["id"]
    assert client.post(f"/api/incidents/{crash}/conversations", json={"conversation_ids": [ids[3]]}, headers=agent)
    moved = client.post(
        f"/api/incidents/{crash}/conversations/move",
        json={"conversation_ids": [ids[0]], "target_incident_id": login},
        headers=agent,
    )
    assert moved.status_code == 204 and count(crash) == 3 and count(login) == 1
    split = client.post(
        f"/api/incidents/{crash}/split", json={"conversation_ids": [ids[1]], "title": "Android only"}, headers=agent
    )
    assert split.status_code == 201 and count(split.json()["id"]) == 1 and count(crash) == 2
    assert (
        client.post(f"/api/incidents/{crash}/merge", json={"merge_incident_id": login}, headers=agent).status_code
        == 204
    )
    assert count(crash) == 3
    removed = client.post(
        f"/api/incidents/{crash}/conversations/remove", json={"conversation_ids": [ids[2]]}, headers=agent
    )
    assert removed.status_code == 204 and count(crash) == 2

    gone = client.post(
        f"/api/incidents/{crash}/conversations/move",
        json={"conversation_ids": [ids[3]], "target_incident_id": login},  # merged away
        headers=agent,
    )
    assert gone.status_code == 404
    old = client.post("/api/incidents", json={"title": "Yesterday's outage"}, headers=agent).json()["id"]
    assert client.put(f"/api/incidents/{old}/status", json={"status": "resolved"}, headers=agent).status_code == 204
    refused = client.post(
        f"/api/incidents/{crash}/conversations/move",
        json={"conversation_ids": [ids[3]], "target_incident_id": old},
        headers=agent,
    )
    assert refused.status_code in (409, 422) and "open incident" in refused.text
    assert (
        client.post(
            f"/api/incidents/{crash}/conversations/move",
            json={"conversation_ids": [ids[3]], "target_incident_id": crash},
            headers=viewer,
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/api/incidents/{crash}/conversations/move", json={"conversation_ids": []}, headers=agent
        ).status_code
        == 422
    )
