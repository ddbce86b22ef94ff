"""The visitor endpoints through the real app (TestClient, runtime on SQLite with its pipeline and
outbox running): sessions, CORS, limits, hostile input, the visitor's own transcript."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.channels.webchat.conftest import ACCOUNT, SITE, connect_webchat
from tests.conftest import Users, wait_for
from townsquare.api.app import create_app
from townsquare.channels.webchat.service import WebchatService
from townsquare.channels.webchat.setup import ensure_account
from townsquare.runtime import Runtime

Client = TestClient
ORIGIN = {"Origin": SITE}


def start(runtime: Runtime, **options: Any) -> TestClient:
    return TestClient(create_app(runtime, manage_runtime=True, services=[WebchatService(runtime, **options)]))


@pytest.fixture
def client(webchat_runtime: Runtime) -> Iterator[TestClient]:
    with start(webchat_runtime) as test_client:
        yield test_client


def new_session(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post(f"/webchat/{ACCOUNT}/session", json=body, headers=ORIGIN)
    assert response.status_code == 200, response.text
    session: dict[str, Any] = response.json()
    return session


def bearer(session: dict[str, Any]) -> dict[str, str]:
    return {**ORIGIN, "Authorization": f"Bearer {session['token']}"}


def write(client: TestClient, session: dict[str, Any], text: str, **extra: Any) -> Any:
    return client.post(f"/webchat/{ACCOUNT}/messages", json={"text": text, **extra}, headers=bearer(session))


def webchat_conversations(client: TestClient, users: Users) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get(
        "/api/conversations", params={"channel": "webchat"}, headers=users.headers("viewer")
    ).json()["items"]
    return items


def detail(client: TestClient, users: Users, conversation_id: str) -> dict[str, Any]:
    document: dict[str, Any] = client.get(
        f"/api/conversations/{conversation_id}", headers=users.headers("viewer")
    ).json()
    return document


# -- the widget's files ---------------------------------------------------------------------------


def test_widget_script_and_styles_are_served(client: TestClient) -> None:
    script = client.get("/webchat/widget.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["cross-origin-resource-policy"] == "cross-origin"
    for unsafe in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert unsafe not in script.text
    assert "textContent" in script.text
    styles = client.get("/webchat/widget.css")
    assert styles.status_code == 200 and styles.headers["content-type"].startswith("text/css")


# -- sessions -------------------------------------------------------------------------------------


def test_session_starts_and_resumes_the_same_visitor(client: TestClient) -> None:
    first = new_session(client)
    assert first["resumed"] is False and first["title"] == "Acme support"
    assert first["require_email"] is False and first["max_text_length"] == 5000
    again = new_session(client, token=first["token"], name="Lena", email="lena@example.com")
    assert again["resumed"] is True and again["visitor_id"] == first["visitor_id"]
    assert (again["name"], again["email"]) == ("Lena", "lena@example.com")
    # The profile travels in the token: resuming without giving it keeps it.
    third = new_session(client, token=again["token"])
    assert (third["visitor_id"], third["name"], third["email"]) == (first["visitor_id"], "Lena", "lena@example.com")


def test_forged_token_gets_a_new_visitor_never_the_old_one(client: TestClient) -> None:
    first = new_session(client)
    forged = first["token"][:-3] + ("abc" if not first["token"].endswith("abc") else "xyz")
    other = new_session(client, token=forged)
    assert other["resumed"] is False and other["visitor_id"] != first["visitor_id"]


def test_invalid_email_is_refused(client: TestClient) -> None:
    response = client.post(f"/webchat/{ACCOUNT}/session", json={"email": "<script>@"}, headers=ORIGIN)
    assert response.status_code == 422
    assert "<script>" not in response.text  # the input is not echoed back


def test_unknown_account_is_not_found(client: TestClient) -> None:
    assert client.post("/webchat/nobody/session", json={}, headers=ORIGIN).status_code == 404
    assert client.get("/webchat/nobody/history").status_code == 404


# -- CORS -----------------------------------------------------------------------------------------


def test_preflight_from_an_allowed_origin(client: TestClient) -> None:
    response = client.options(
        f"/webchat/{ACCOUNT}/messages",
        headers={**ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"},
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == SITE
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "Authorization" in response.headers["access-control-allow-headers"]
    assert "access-control-allow-credentials" not in response.headers


def test_other_origins_are_refused_without_cors_headers(client: TestClient) -> None:
    evil = {"Origin": "https://evil.example"}
    preflight = client.options(f"/webchat/{ACCOUNT}/session", headers=evil)
    assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    post = client.post(f"/webchat/{ACCOUNT}/session", json={}, headers=evil)
    assert post.status_code == 403 and "access-control-allow-origin" not in post.headers
    assert client.post(f"/webchat/{ACCOUNT}/session", json={}, headers={"Origin": "null"}).status_code == 403


def test_answers_carry_cors_headers_for_the_allowed_origin(client: TestClient) -> None:
    session = client.post(f"/webchat/{ACCOUNT}/session", json={}, headers=ORIGIN)
    assert session.headers["access-control-allow-origin"] == SITE
    refused = client.get(f"/webchat/{ACCOUNT}/history", headers=ORIGIN)  # no token: 401, still readable
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == SITE


def test_own_public_url_and_wildcard_origins(webchat_runtime: Runtime) -> None:
    with start(webchat_runtime) as client:
        own = client.post(f"/webchat/{ACCOUNT}/session", json={}, headers={"Origin": "http://townsquare.test"})
        assert own.status_code == 200
        connect_webchat(webchat_runtime, allowed_origins="*")  # and forget the cached connector
        anywhere = client.post(f"/webchat/{ACCOUNT}/session", json={}, headers={"Origin": "https://any.example"})
        assert anywhere.headers["access-control-allow-origin"] == "https://any.example"


# -- messages -------------------------------------------------------------------------------------


def test_message_becomes_a_private_conversation(client: TestClient, webchat_runtime: Runtime) -> None:
    users = Users(webchat_runtime)
    session = new_session(client, name="Lena Hoffmann", email="lena@example.com")
    response = write(client, session, "Mein Router blinkt rot", page="https://www.acme.example/help")
    assert response.status_code == 202
    assert response.json()["id"].startswith("wcm_")
    [conversation] = wait_for(lambda: webchat_conversations(client, users))  # type: ignore[misc]
    assert conversation["account"] == ACCOUNT and conversation["contact_name"] == "Lena Hoffmann"
    assert conversation["has_private"] and not conversation["has_public"]
    [message] = detail(client, users, conversation["id"])["messages"]
    assert message["text"] == "Mein Router blinkt rot" and message["visibility"] == "private"
    assert message["external_id"] == response.json()["id"]
    assert message["author_handle"] == "lena@example.com"


def test_tokens_are_required_and_checked(client: TestClient) -> None:
    url = f"/webchat/{ACCOUNT}/messages"
    assert client.post(url, json={"text": "hi"}, headers=ORIGIN).status_code == 401
    forged = {**ORIGIN, "Authorization": "Bearer eyJhIjoiYWNtZSJ9.forged.sig"}
    assert client.post(url, json={"text": "hi"}, headers=forged).status_code == 401
    assert client.get(f"/webchat/{ACCOUNT}/history", headers=forged).status_code == 401
    assert client.get(f"/webchat/{ACCOUNT}/stream", headers=forged).status_code == 401


def test_expired_token_is_refused(webchat_runtime: Runtime) -> None:
    with start(webchat_runtime, token_max_age_seconds=1) as client:
        session = new_session(client)
        import time

        time.sleep(2.1)
        assert write(client, session, "still there?").status_code == 401
        assert new_session(client, token=session["token"])["resumed"] is False


def test_huge_and_empty_messages_are_refused_cleanly(client: TestClient) -> None:
    session = new_session(client)
    too_long = write(client, session, "x" * 5001)
    assert too_long.status_code == 422 and "5000" in too_long.text and "xxxx" not in too_long.text
    assert write(client, session, "x" * 5000).status_code == 202
    assert write(client, session, "   \n ").status_code == 422
    huge = client.post(
        f"/webchat/{ACCOUNT}/messages",
        content=b'{"text": "' + b"y" * 200_000 + b'"}',
        headers={**bearer(session), "Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    broken = client.post(
        f"/webchat/{ACCOUNT}/messages",
        content=b"{not json",
        headers={**bearer(session), "Content-Type": "application/json"},
    )
    assert broken.status_code == 422


def test_rate_limit_per_visitor_answers_429_with_retry_after(webchat_runtime: Runtime) -> None:
    with start(webchat_runtime, message_burst=3, messages_per_minute=6) as client:
        talkative, quiet = new_session(client), new_session(client)
        assert [write(client, talkative, f"m{i}").status_code for i in range(3)] == [202, 202, 202]
        limited = write(client, talkative, "one more")
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 10
        assert limited.headers["access-control-allow-origin"] == SITE
        assert write(client, quiet, "hello").status_code == 202  # another visitor is not affected


def test_new_visitors_are_rate_limited_per_address(webchat_runtime: Runtime) -> None:
    with start(webchat_runtime, new_visitor_burst=2, new_visitors_per_minute=1) as client:
        first = new_session(client)
        new_session(client)
        refused = client.post(f"/webchat/{ACCOUNT}/session", json={}, headers=ORIGIN)
        assert refused.status_code == 429 and "retry-after" in refused.headers
        # A returning visitor is no new identity: resuming still works.
        assert new_session(client, token=first["token"])["resumed"] is True


def test_retried_send_with_the_same_client_id_is_stored_once(client: TestClient, webchat_runtime: Runtime) -> None:
    users = Users(webchat_runtime)
    session = new_session(client)
    first = write(client, session, "hello?", client_id="c0ffee00c0ffee00")
    again = write(client, session, "hello?", client_id="c0ffee00c0ffee00")
    write(client, session, "anyone?", client_id="c0ffee00c0ffee01")
    assert first.json()["id"] == again.json()["id"]
    [conversation] = wait_for(lambda: webchat_conversations(client, users))  # type: ignore[misc]
    wait_for(lambda: detail(client, users, conversation["id"])["message_count"] == 2)
    texts = [m["text"] for m in detail(client, users, conversation["id"])["messages"]]
    assert texts == ["hello?", "anyone?"]


def test_require_email(webchat_runtime: Runtime) -> None:
    connect_webchat(webchat_runtime, require_email=True)
    with start(webchat_runtime) as client:
        anonymous = new_session(client)
        assert anonymous["require_email"] is True
        refused = write(client, anonymous, "hi")
        assert refused.status_code == 403
        known = new_session(client, token=anonymous["token"], email="ben@example.com")
        assert write(client, known, "hi").status_code == 202


# -- hostile input, transcript --------------------------------------------------------------------


def test_hostile_html_is_stored_and_returned_as_is(client: TestClient, webchat_runtime: Runtime) -> None:
    users = Users(webchat_runtime)
    name = '<img src=x onerror="alert(1)">Mallory'
    text = "<script>alert('pwned')</script> & <b>bold</b>\x00"
    session = new_session(client, name=name)
    assert session["name"] == name
    assert write(client, session, text).status_code == 202
    [conversation] = wait_for(lambda: webchat_conversations(client, users))  # type: ignore[misc]
    assert conversation["contact_name"] == name
    [message] = detail(client, users, conversation["id"])["messages"]
    assert message["text"] == text.replace("\x00", "") and message["author_name"] == name
    [line] = client.get(f"/webchat/{ACCOUNT}/history", headers=bearer(session)).json()["messages"]
    assert line["text"] == text.replace("\x00", "") and line["author"] == name


def test_transcript_holds_own_messages_and_replies_only(client: TestClient, webchat_runtime: Runtime) -> None:
    users = Users(webchat_runtime)
    lena, ben = new_session(client, name="Lena"), new_session(client, name="Ben")
    write(client, lena, "Lena's question")
    write(client, ben, "Ben's secret contract number 4711")
    wait_for(lambda: len(webchat_conversations(client, users)) == 2)
    [lena_conversation] = [c for c in webchat_conversations(client, users) if c["contact_name"] == "Lena"]
    public = client.post(
        f"/api/conversations/{lena_conversation['id']}/replies",
        json={"text": "in public", "visibility": "public"},
        headers=users.headers("agent"),
    )
    assert public.status_code == 422  # web chat has no public replies
    reply = client.post(
        f"/api/conversations/{lena_conversation['id']}/replies",
        json={"text": "Hi Lena, <i>we</i> are on it.", "visibility": "private"},
        headers=users.headers("agent"),
    )
    assert reply.status_code == 202, reply.text

    def lena_lines() -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = client.get(f"/webchat/{ACCOUNT}/history", headers=bearer(lena)).json()["messages"]
        return lines

    lines = wait_for(lambda: len(lena_lines()) == 2 and lena_lines())
    assert [(m["direction"], m["text"], m["author"]) for m in lines] == [  # type: ignore[union-attr]
        ("inbound", "Lena's question", "Lena"),
        ("outbound", "Hi Lena, <i>we</i> are on it.", "Acme team"),
    ]
    assert lines[1]["id"] == f"wcr_{reply.json()['reply_id']}"  # type: ignore[index]
    ben_lines = client.get(f"/webchat/{ACCOUNT}/history", headers=bearer(ben)).json()["messages"]
    assert [m["text"] for m in ben_lines] == ["Ben's secret contract number 4711"]


def test_merged_contacts_never_show_another_visitors_lines(client: TestClient, webchat_runtime: Runtime) -> None:
    users = Users(webchat_runtime)
    lena, ben = new_session(client, name="Lena"), new_session(client, name="Ben")
    write(client, lena, "from Lena")
    wait_for(lambda: len(webchat_conversations(client, users)) == 1)
    write(client, ben, "from Ben")
    wait_for(lambda: len(webchat_conversations(client, users)) == 2)
    conversations = {c["contact_name"]: c for c in webchat_conversations(client, users)}
    merged = client.post(
        f"/api/contacts/{conversations['Lena']['contact_id']}/merge",
        json={"merge_contact_id": conversations["Ben"]["contact_id"]},
        headers=users.headers("admin"),
    )
    assert merged.status_code == 204, merged.text
    lines = client.get(f"/webchat/{ACCOUNT}/history", headers=bearer(lena)).json()["messages"]
    assert [m["text"] for m in lines] == ["from Lena"]


# -- the preview page and connecting from code ----------------------------------------------------


def test_preview_page_embeds_the_widget(webchat_runtime: Runtime) -> None:
    assert ensure_account(webchat_runtime, "<i>shop", title="Shop chat") is True
    assert ensure_account(webchat_runtime, "<i>shop", title="ignored") is False
    with start(webchat_runtime) as client:
        page = client.get("/webchat/acme/preview")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert '{"account": "acme", "base": ""}' in page.text
        hostile = client.get("/webchat/%3Ci%3Eshop/preview")
        assert hostile.status_code == 200
        assert "<i>shop" not in hostile.text and "\\u003ci\\u003eshop" in hostile.text
        session = client.post("/webchat/%3Ci%3Eshop/session", json={}).json()
        assert session["title"] == "Shop chat"
        assert client.get("/webchat/nobody/preview").status_code == 404
