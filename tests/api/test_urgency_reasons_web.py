"""Why a post is urgent, as triage says it, reaches the agent: in the API's message triage and on
the conversation page, next to the customer's text."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Users
from tests.factories import message
from townsquare.config import Settings
from townsquare.runtime import Runtime


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, triage="fast", secret_key="test-secret-key-0123456789")


def test_the_agent_sees_why_a_post_is_urgent(client: TestClient, users: Users, runtime: Runtime) -> None:
    text = "@acme Rauch kommt aus dem Router!!! <b>Ich gehe zum Anwalt</b>"
    runtime.pipeline.process([message("x", author="u1", text=text, language="de")])
    conversation_id = client.get("/api/conversations", headers=users.headers("viewer")).json()["items"][0]["id"]
    api = client.get(f"/api/conversations/{conversation_id}", headers=users.headers("viewer")).json()
    reasons = api["messages"][0]["triage"]["urgency_reasons"]
    assert [r["reason"] for r in reasons][:2] == ["safety", "legal"]
    assert reasons[0]["evidence"] == "Rauch"

    page = client.get("/login").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    client.post("/login", data={"email": "agent@example.com", "password": "correct horse battery", "csrf": csrf})
    html = client.get(f"/conversations/{conversation_id}").text
    assert 'class="reason reason-safety">safety “Rauch”' in html
    assert "legal “Anwalt”" in html
    assert "<b>Ich" not in html  # the customer's markup stays text

    # The inbox shows the strongest topic at a glance; the conversation keeps its first post's reasons.
    conversation = client.get(f"/api/conversations/{conversation_id}", headers=users.headers("viewer")).json()
    assert conversation["urgency_reasons"] == reasons
    inbox = client.get("/inbox").text
    assert 'title="why triage rates this conversation urgent">safety “Rauch”</span>' in inbox


def test_a_calm_post_shows_no_reasons(client: TestClient, users: Users, runtime: Runtime) -> None:
    runtime.pipeline.process([message("y", author="u2", text="Danke, alles prima!", language="de")])
    conversation_id = client.get("/api/conversations", headers=users.headers("viewer")).json()["items"][0]["id"]
    api = client.get(f"/api/conversations/{conversation_id}", headers=users.headers("viewer")).json()
    assert api["messages"][0]["triage"]["urgency_reasons"] == []
    page = client.get("/login").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    client.post("/login", data={"email": "agent@example.com", "password": "correct horse battery", "csrf": csrf})
    assert 'class="why"' not in client.get(f"/conversations/{conversation_id}").text
    assert 'class="why"' not in client.get("/inbox").text


def test_a_later_more_urgent_post_escalates_its_conversation(
    client: TestClient, users: Users, runtime: Runtime
) -> None:
    viewer = users.headers("viewer")
    runtime.pipeline.process([message("a", author="u3", text="Wann kommt meine Rechnung?", language="de")])
    [item] = client.get("/api/conversations", headers=viewer).json()["items"]
    before = client.get(f"/api/conversations/{item['id']}", headers=viewer).json()
    assert before["priority"] in ("low", "normal")

    runtime.pipeline.process(
        [message("b", author="u3", text="Rauch kommt aus dem Router!!!", language="de", minutes=3, in_reply_to="a")]
    )
    after = client.get(f"/api/conversations/{item['id']}", headers=viewer).json()
    assert len(after["messages"]) == 2
    assert after["priority"] in ("high", "urgent")
    assert after["urgency"] > before["urgency"]
    assert after["urgency_reasons"][0]["reason"] == "safety"
    assert after["first_response_due_at"] < before["first_response_due_at"]
    # Nobody clicked, so the audit log says who raised it and why, on which post.
    [entry] = client.get("/api/audit", params={"target_id": item["id"]}, headers=users.headers("admin")).json()
    assert (entry["action"], entry["actor_label"], entry["target_type"]) == (
        "conversation.escalate",
        "triage",
        "conversation",
    )
    [urgent_post] = [m for m in after["messages"] if m["external_id"] == "b"]
    assert entry["details"]["from"] == before["priority"] and entry["details"]["to"] == after["priority"]
    assert entry["details"]["message_id"] == urgent_post["id"]
    assert entry["details"]["reasons"][0] == "safety" and entry["details"]["urgency"] == after["urgency"]

    runtime.pipeline.process(
        [message("c", author="u3", text="Danke, alles gut jetzt", language="de", minutes=6, in_reply_to="b")]
    )
    calmer = client.get(f"/api/conversations/{item['id']}", headers=viewer).json()
    assert (calmer["priority"], calmer["urgency"]) == (after["priority"], after["urgency"])  # never lowered
    audited = client.get("/api/audit", params={"target_id": item["id"]}, headers=users.headers("admin")).json()
    assert len(audited) == 1  # a calmer post changes nothing, so nothing is logged


def test_an_urgent_post_that_reopens_a_resolved_conversation_gets_its_due_times(
    client: TestClient, users: Users, runtime: Runtime
) -> None:
    viewer, agent = users.headers("viewer"), users.headers("agent")
    runtime.pipeline.process([message("a", author="u4", text="Danke für die Hilfe", language="de")])
    [item] = client.get("/api/conversations", headers=viewer).json()["items"]
    before = client.get(f"/api/conversations/{item['id']}", headers=viewer).json()
    assert (
        client.put(f"/api/conversations/{item['id']}/status", json={"status": "resolved"}, headers=agent).status_code
        == 204
    )
    runtime.pipeline.process(
        [message("b", author="u4", text="Der Akku brennt! Feuer!", language="de", minutes=10, in_reply_to="a")]
    )
    after = client.get(f"/api/conversations/{item['id']}", headers=viewer).json()
    assert after["status"] == "open"
    assert after["priority"] in ("high", "urgent")
    assert after["resolution_due_at"] < before["resolution_due_at"]  # the reopening post's SLA


def test_a_conversation_shows_the_customers_mood_now(client: TestClient, users: Users, runtime: Runtime) -> None:
    """The conversation's sentiment (the inbox column) is its newest customer post's: a thank-you
    after a complaint turns it, an old post imported later does not, an agent's label of the
    newest post replaces triage's there."""
    viewer, agent = users.headers("viewer"), users.headers("agent")

    def conversation() -> dict[str, Any]:
        [item] = client.get("/api/conversations", headers=viewer).json()["items"]
        found: dict[str, Any] = client.get(f"/api/conversations/{item['id']}", headers=viewer).json()
        return found

    def said(found: dict[str, Any], external_id: str) -> str:
        [post] = [m for m in found["messages"] if m["external_id"] == external_id]
        return str(post["triage"]["sentiment"])

    runtime.pipeline.process(
        [
            message(
                "a",
                author="u5",
                text="Seit drei Tagen kein Internet. Eine Frechheit, ich bin wütend!!!",
                language="de",
                minutes=1,
            )
        ]
    )
    first = conversation()
    assert first["sentiment"] == said(first, "a") == "negative"

    text = "Vielen Dank, super Service!"
    runtime.pipeline.process([message("b", author="u5", text=text, language="de", minutes=5, in_reply_to="a")])
    now = conversation()
    assert said(now, "b") == "positive"
    assert now["sentiment"] == "positive"  # the mood now, not the first post's

    # An older post arriving late (an import, a delayed webhook) does not change the mood.
    old = message("z", author="u5", text="Immer noch kein Internet, eine Frechheit!!!", language="de", in_reply_to="a")
    runtime.pipeline.process([old])
    late = conversation()
    assert said(late, "z") == "negative" and late["sentiment"] == "positive"

    # An agent's label counts on the newest post only.
    posts = {m["external_id"]: m["id"] for m in late["messages"]}
    assert client.put(f"/api/messages/{posts['a']}/label", json={"sentiment": "neutral"}, headers=agent)
    assert conversation()["sentiment"] == "positive"
    assert client.put(f"/api/messages/{posts['b']}/label", json={"sentiment": "neutral"}, headers=agent)
    assert conversation()["sentiment"] == "neutral"
    assert client.delete(f"/api/messages/{posts['b']}/label", headers=agent).status_code == 204
    assert conversation()["sentiment"] == "positive"


def test_a_new_conversation_is_as_urgent_as_the_most_urgent_post_of_its_first_batch(
    client: TestClient, users: Users, runtime: Runtime
) -> None:
    """Two posts of one customer in one batch (a burst during an outage): the second, more urgent
    one sets urgency, reasons and priority; due times start at the first."""
    viewer = users.headers("viewer")
    runtime.pipeline.process(
        [
            message("a", author="u6", text="Wann kommt meine Rechnung?", language="de"),
            message("b", author="u6", text="Rauch kommt aus dem Router!!!", language="de", minutes=1, in_reply_to="a"),
        ]
    )
    [item] = client.get("/api/conversations", headers=viewer).json()["items"]
    found = client.get(f"/api/conversations/{item['id']}", headers=viewer).json()
    assert len(found["messages"]) == 2
    urgent = found["messages"][1]["triage"]
    assert urgent["urgency"] > found["messages"][0]["triage"]["urgency"]
    assert found["urgency"] == urgent["urgency"]
    assert found["urgency_reasons"][0]["reason"] == "safety"
    assert found["priority"] in ("high", "urgent")
    assert found["language"] == "de"

    runtime.pipeline.process([message("c", author="u7", text="Wann kommt meine Rechnung?", language="de")])
    calm = next(c for c in client.get("/api/conversations", headers=viewer).json()["items"] if c["id"] != item["id"])
    calm_detail = client.get(f"/api/conversations/{calm['id']}", headers=viewer).json()
    first_due = calm_detail["first_response_due_at"]
    assert found["first_response_due_at"] < first_due  # the urgent priority's shorter SLA, from the first post
