"""Agents correct triage; the corrections become the company's labelled history, which
`townsquare export labelled` writes in the format `townsquare train --labelled` and
`townsquare eval triage` read."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.conftest import Users
from tests.factories import message
from townsquare.cli import app
from townsquare.runtime import Runtime
from townsquare.store import audit
from townsquare.store import conversations as convs
from townsquare.triage.data import from_jsonl_record


def _first_message(client: TestClient, users: Users) -> tuple[str, str]:
    viewer = users.headers("viewer")
    conversation_id = client.get("/api/conversations", headers=viewer).json()["items"][0]["id"]
    detail = client.get(f"/api/conversations/{conversation_id}", headers=viewer).json()
    return conversation_id, detail["messages"][0]["id"]


def _label_of(client: TestClient, users: Users, conversation_id: str) -> dict[str, object] | None:
    detail = client.get(f"/api/conversations/{conversation_id}", headers=users.headers("viewer")).json()
    label: dict[str, object] | None = detail["messages"][0]["label"]
    return label


def test_an_agent_labels_a_message_and_later_corrects_one_field(
    client: TestClient, users: Users, runtime: Runtime
) -> None:
    runtime.pipeline.process([message("a", text="Seit drei Tagen kein Internet, ich kündige!", language="de")])
    conversation_id, message_id = _first_message(client, users)
    assert _label_of(client, users, conversation_id) is None
    url = f"/api/messages/{message_id}/label"
    agent = users.headers("agent")

    body = {"sentiment": "negative", "intents": ["complaint", "request"], "needs_reply": True}
    assert client.put(url, json=body, headers=agent).status_code == 204
    label = _label_of(client, users, conversation_id)
    assert label is not None
    assert (label["sentiment"], label["intents"], label["needs_reply"], label["spam"]) == (
        "negative",
        ["complaint", "request"],
        True,
        None,  # not said: not a label
    )
    assert label["labelled_by_name"] == "Agent User"
    viewer = users.headers("viewer")
    conversation = client.get(f"/api/conversations/{conversation_id}", headers=viewer).json()
    assert conversation["sentiment"] == "negative"  # the first post's label shows in the inbox

    assert client.put(url, json={"spam": False}, headers=users.headers("admin")).status_code == 204
    label = _label_of(client, users, conversation_id)
    assert label is not None
    assert (label["sentiment"], label["spam"], label["labelled_by_name"]) == ("negative", False, "Admin User")

    with runtime.db.read() as conn:
        entries = audit.entries(conn, target_type="message", target_id=message_id)
    assert [e["action"] for e in entries] == ["message.label", "message.label"]
    assert any(e["details"].get("intents") == ["complaint", "request"] for e in entries)
    assert all("text" not in e["details"] for e in entries)  # the customer's words stay out of the log


def test_bad_labels_are_refused_with_the_reason(client: TestClient, users: Users, runtime: Runtime) -> None:
    runtime.pipeline.process([message("a")])
    _, message_id = _first_message(client, users)
    url = f"/api/messages/{message_id}/label"
    agent = users.headers("agent")
    cases = [
        ({"sentiment": "furious"}, "sentiment is one of negative, neutral, positive"),
        ({"intents": ["complaint", "rant"]}, "intents is a list of distinct intents"),
        ({"intents": ["praise", "praise"]}, "intents is a list of distinct intents"),
        ({}, "say at least one of"),
    ]
    for body, reason in cases:
        response = client.put(url, json=body, headers=agent)
        assert response.status_code == 422, body
        assert reason in response.json()["detail"], body
    assert client.put(url, json={"intents": []}, headers=agent).status_code == 422
    assert client.put(url, json={"sentiment": "negative", "who": "me"}, headers=agent).status_code == 422
    assert client.put(url, json={"sentiment": "negative"}, headers=users.headers("viewer")).status_code == 403
    assert client.put("/api/messages/nope/label", json={"sentiment": "negative"}, headers=agent).status_code == 404


def test_only_customers_messages_are_labelled(client: TestClient, users: Users, runtime: Runtime) -> None:
    runtime.pipeline.process([message("a"), message("b", direction="outbound", minutes=1, in_reply_to="a")])
    conversation_id, _ = _first_message(client, users)
    with runtime.db.read() as conn:
        outbound = [m for m in convs.messages_of(conn, conversation_id) if m["direction"] == "outbound"]
    assert outbound
    response = client.put(
        f"/api/messages/{outbound[0]['id']}/label", json={"sentiment": "neutral"}, headers=users.headers("agent")
    )
    assert response.status_code == 422
    assert "only customers' messages" in response.json()["detail"]


def test_labels_are_exported_for_training_and_evaluation(
    client: TestClient, users: Users, runtime: Runtime, tmp_path: Path
) -> None:
    runtime.pipeline.process(
        [
            message("a", author="u1", text="Your app ate my money, refund me now", language="en"),
            message("b", author="u2", text="Danke, läuft wieder!", language="de"),
            message("c", author="u3", text="not labelled"),
        ]
    )
    agent = users.headers("agent")
    viewer = users.headers("viewer")
    ids = {}
    for item in client.get("/api/conversations", headers=viewer).json()["items"]:
        detail = client.get(f"/api/conversations/{item['id']}", headers=viewer).json()
        ids[detail["messages"][0]["text"]] = detail["messages"][0]["id"]
    refund = {"sentiment": "negative", "intents": ["request", "complaint"], "needs_reply": True, "spam": False}
    assert client.put(f"/api/messages/{ids['Your app ate my money, refund me now']}/label", json=refund, headers=agent)
    assert client.put(
        f"/api/messages/{ids['Danke, läuft wieder!']}/label", json={"sentiment": "positive"}, headers=agent
    )

    out = tmp_path / "labelled.jsonl"
    database = runtime.settings.database_url
    result = CliRunner().invoke(app, ["export", "labelled", "-o", str(out), "--database-url", database])
    assert result.exit_code == 0, result.output
    assert "exported 2 labelled messages" in result.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    by_text = {r["text"]: r for r in records}
    assert set(by_text) == {"Your app ate my money, refund me now", "Danke, läuft wieder!"}
    german = by_text["Danke, läuft wieder!"]
    assert {k: german[k] for k in ("language", "sentiment")} == {"language": "de", "sentiment": "positive"}
    assert "intents" not in german and "spam" not in german  # only what an agent said
    rows = [from_jsonl_record(r, default_id="x") for r in records]
    refund_row = next(r for r in rows if r.language == "en")
    assert (refund_row.intents, refund_row.complaint, refund_row.needs_reply, refund_row.spam) == (
        ["request", "complaint"],
        True,
        True,
        False,
    )

    result = CliRunner().invoke(app, ["eval", "triage", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert "sentiment" in json.loads(result.stdout)


def test_the_web_form_labels_a_message(client: TestClient, users: Users, runtime: Runtime) -> None:
    runtime.pipeline.process([message("a", text="where is my parcel?")])
    conversation_id, message_id = _first_message(client, users)
    page = client.get("/login").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    client.post("/login", data={"email": "agent@example.com", "password": "correct horse battery", "csrf": csrf})
    html = client.get(f"/conversations/{conversation_id}").text
    assert "Correct triage" in html
    csrf = html.split('name="csrf" value="')[1].split('"')[0]
    form = {"sentiment": "neutral", "intent": "question", "needs_reply": "true", "csrf": csrf}
    response = client.post(
        f"/conversations/{conversation_id}/messages/{message_id}/label", data=form, follow_redirects=False
    )
    assert response.status_code == 303
    label = _label_of(client, users, conversation_id)
    assert label is not None
    assert (label["sentiment"], label["intents"], label["needs_reply"], label["spam"]) == (
        "neutral",
        ["question"],
        True,
        False,  # the form states every answer: an unticked box is a no
    )
    html = client.get(f"/conversations/{conversation_id}").text
    assert "Labelled by Agent User: neutral · question · needs a reply" in html
    assert '<span class="tag labelled" title="set by an agent; triage said nothing">question</span>' in html
    forged = {**form, "csrf": "forged"}
    client.post(f"/conversations/{conversation_id}/messages/{message_id}/label", data={**forged, "intent": "praise"})
    label = _label_of(client, users, conversation_id)
    assert label is not None and label["intents"] == ["question"]

    # A second intent ("a question and a request"); the same one twice counts once.
    url = f"/conversations/{conversation_id}/messages/{message_id}/label"
    client.post(url, data={**form, "also_intent": "request"})
    label = _label_of(client, users, conversation_id)
    assert label is not None and label["intents"] == ["question", "request"]
    html = client.get(f"/conversations/{conversation_id}").text
    assert '<option value="request" selected>also request</option>' in html
    client.post(url, data={**form, "also_intent": "question"})
    label = _label_of(client, users, conversation_id)
    assert label is not None and label["intents"] == ["question"]
    response = client.post(url, data={**form, "also_intent": "rant"}, follow_redirects=False)
    assert response.status_code == 303
    assert "intents is a list of distinct intents" in client.get(f"/conversations/{conversation_id}").text


def test_a_label_can_be_withdrawn(client: TestClient, users: Users, runtime: Runtime) -> None:
    runtime.pipeline.process([message("a", text="Rechnung doppelt abgebucht!")])
    conversation_id, message_id = _first_message(client, users)
    agent, viewer = users.headers("agent"), users.headers("viewer")
    url = f"/api/messages/{message_id}/label"
    assert client.delete(url, headers=agent).status_code == 404  # nothing to withdraw yet
    assert client.put(url, json={"sentiment": "negative"}, headers=agent).status_code == 204
    assert client.get(f"/api/conversations/{conversation_id}", headers=viewer).json()["sentiment"] == "negative"
    assert client.delete(url, headers=viewer).status_code == 403
    assert client.delete(url, headers=agent).status_code == 204
    assert _label_of(client, users, conversation_id) is None
    # triage was off here: the conversation shows triage's answer again, which is none
    assert client.get(f"/api/conversations/{conversation_id}", headers=viewer).json()["sentiment"] is None
    with runtime.db.read() as conn:
        entries = audit.entries(conn, target_type="message", target_id=message_id)
    assert any(
        e["action"] == "message.unlabel" and e["details"]["withdrawn"] == {"sentiment": "negative"} for e in entries
    )

    page = client.get("/login").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    client.post("/login", data={"email": "agent@example.com", "password": "correct horse battery", "csrf": csrf})
    assert client.put(url, json={"spam": True}, headers=agent).status_code == 204
    html = client.get(f"/conversations/{conversation_id}").text
    assert "Withdraw label" in html
    csrf = html.split('name="csrf" value="')[1].split('"')[0]
    client.post(f"/conversations/{conversation_id}/messages/{message_id}/unlabel", data={"csrf": csrf})
    assert _label_of(client, users, conversation_id) is None


def test_the_labelled_history_is_walked_in_pages_without_losing_or_repeating_a_message(
    client: TestClient, users: Users, runtime: Runtime
) -> None:
    from townsquare.store import labels

    runtime.pipeline.process([message(f"m{i}", author=f"u{i}", text=f"post {i}") for i in range(5)])
    viewer, agent = users.headers("viewer"), users.headers("agent")
    for item in client.get("/api/conversations", headers=viewer).json()["items"]:
        detail = client.get(f"/api/conversations/{item['id']}", headers=viewer).json()
        put = client.put(f"/api/messages/{detail['messages'][0]['id']}/label", json={"spam": False}, headers=agent)
        assert put.status_code == 204
    with runtime.db.read() as conn:
        walked = [row["text"] for row in labels.labelled_messages(conn, page_size=2)]
    assert sorted(walked) == [f"post {i}" for i in range(5)]
