"""How triage is doing on the company's own customers: its stored answers against the agents'
corrections, in the API, on the "Triage" page and from `townsquare eval corrections`."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.conftest import Users
from tests.factories import message
from townsquare.cli import app
from townsquare.config import Settings
from townsquare.runtime import Runtime

HOSTILE = "<script>alert(1)</script> Ihr habt mich zweimal abgebucht!"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, triage="fast", secret_key="test-secret-key-0123456789")


def _triaged_posts(client: TestClient, users: Users, runtime: Runtime) -> dict[str, dict[str, object]]:
    runtime.pipeline.process(
        [
            message("a", author="u1", text=HOSTILE, language="de"),
            message("b", author="u2", text="Danke, läuft wieder!", language="de"),
            message("c", author="u3", text="Where can I find my invoice?", language="en"),
        ]
    )
    viewer = users.headers("viewer")
    posts = {}
    for item in client.get("/api/conversations", headers=viewer).json()["items"]:
        first = client.get(f"/api/conversations/{item['id']}", headers=viewer).json()["messages"][0]
        posts[first["text"]] = first
    return posts


def _other(sentiment: object) -> str:
    return "positive" if sentiment != "positive" else "negative"


def test_the_report_scores_what_triage_said_against_what_agents_said(
    client: TestClient, users: Users, runtime: Runtime
) -> None:
    posts = _triaged_posts(client, users, runtime)
    agent = users.headers("agent")
    hostile, thanks = posts[HOSTILE], posts["Danke, läuft wieder!"]
    said = hostile["triage"]["sentiment"]  # type: ignore[index]
    # One agent agrees with triage's sentiment, the other corrects it; the third post is not labelled.
    assert client.put(f"/api/messages/{hostile['id']}/label", json={"sentiment": said}, headers=agent)
    wrong = _other(thanks["triage"]["sentiment"])  # type: ignore[index]
    body = {"sentiment": wrong, "needs_reply": False}
    assert client.put(f"/api/messages/{thanks['id']}/label", json=body, headers=agent).status_code == 204

    report = client.get("/api/triage/corrections", headers=users.headers("viewer")).json()
    assert (report["labelled"], report["without_triage"]) == (2, 0)
    assert report["changed"]["sentiment"] == 1
    sentiment = report["tasks"]["sentiment"]
    assert sentiment["all"]["n"] == 2 and sentiment["de"]["n"] == 2
    assert sentiment["all"]["accuracy"] == 0.5
    labels = sentiment["all"]["confusion"]["labels"]
    matrix = sentiment["all"]["confusion"]["matrix"]
    assert matrix[labels.index(wrong)][labels.index(thanks["triage"]["sentiment"])] == 1  # type: ignore[index]
    assert report["tasks"]["needs_reply"]["all"]["n"] == 1
    assert "intent" not in report["tasks"]  # nobody labelled an intent
    assert "floor" in report["note"]
    # Every answer names the model that gave it: the pipeline's fast model here.
    (model,) = report["models"]
    assert model == hostile["triage"]["model"] and model.startswith("fast ")  # type: ignore[index]
    assert report["models"][model] == 2 and report["model"] is None
    only = client.get("/api/triage/corrections", params={"model": model}, headers=agent).json()
    assert (only["labelled"], only["model"], only["changed"]["sentiment"]) == (2, model, 1)
    other = client.get("/api/triage/corrections", params={"model": "accurate x"}, headers=agent).json()
    assert other["labelled"] == 0 and other["models"] == {model: 2}
    assert client.get("/api/triage/corrections", params={"model": "x" * 201}, headers=agent).status_code == 422

    # Only labels given since a time; a naive time is read as UTC.
    assert client.get("/api/triage/corrections?since=2999-01-01T00:00:00", headers=agent).json()["labelled"] == 0
    assert (
        client.get("/api/triage/corrections?since=2000-01-01T00:00:00%2B02:00", headers=agent).json()["labelled"] == 2
    )
    assert client.get("/api/triage/corrections?since=yesterday", headers=agent).status_code == 422
    assert client.get("/api/triage/corrections").status_code == 401

    # The page: tables, the shaded matrix, no customer text (let alone unescaped).
    page = client.get("/login").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    client.post("/login", data={"email": "viewer@example.com", "password": "correct horse battery", "csrf": csrf})
    html = client.get("/triage").text
    assert "2 posts labelled by agents" in html
    assert 'id="task-sentiment"' in html and "agents changed 1 of 2" in html
    assert 'class="confusion"' in html and "--share: 1.00" in html
    assert "<script>alert" not in html and "abgebucht" not in html
    assert "2 posts labelled" in client.get("/triage?period=7d").text
    assert 'href="/triage?period=all" class="on"' in client.get("/triage?period=all").text
    assert 'href="/triage?period=30d" class="on"' in client.get("/triage?period=bogus").text
    offered = client.get("/triage", params={"model": model}).text
    assert 'id="quality-models"' in offered and "2 posts labelled" in offered
    assert f'&amp;model={model.replace(" ", "%20")}" class="model-id on"' in offered
    hostile_filter = client.get("/triage", params={"model": "<b>x</b>"}).text
    assert "0 posts labelled" in hostile_filter and "<b>x</b>" not in hostile_filter

    # The same from the command line.
    database = runtime.settings.database_url
    result = CliRunner().invoke(app, ["eval", "corrections", "--json", "--database-url", database])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["changed"]["sentiment"] == 1
    text = CliRunner().invoke(app, ["eval", "corrections", "--since", "2999-01-01", "--database-url", database])
    assert text.exit_code == 0, text.output
    assert "0 labelled posts" in text.stdout and "nothing to compare yet" in text.stdout


def test_the_page_invites_corrections_when_there_are_none(client: TestClient, users: Users) -> None:
    assert client.get("/triage", follow_redirects=False).status_code == 303  # sign in first
    page = client.get("/login").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    client.post("/login", data={"email": "agent@example.com", "password": "correct horse battery", "csrf": csrf})
    html = client.get("/triage").text
    assert 'id="quality-empty"' in html and "Correct triage" in html
