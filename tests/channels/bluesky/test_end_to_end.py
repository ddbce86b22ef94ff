"""Bluesky end to end against a real local AT Protocol network (@atproto/dev-env: PLC, PDS and
AppView on 127.0.0.1): a customer's mention becomes a conversation, the agent's reply is posted
through the API and threads under it on the network, the customer's answer joins the same
conversation, and a restart in the middle loses and duplicates nothing.

Receiving and sending direct messages is not here: the chat service is not part of dev-env (see
test_chat.py). What is here: the real PDS cannot reach the chat service (it answers 500 through its
proxy), and mentions and replies still arrive while the connector says so once in the log.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import pytest

from tests.api_client import conversations, detail
from tests.channels.bluesky import peer
from tests.channels.bluesky.conftest import unique_handle
from tests.conftest import Users, townsquare_server, wait_for
from townsquare.channels.bluesky.connector import BlueskyConnector, BlueskySettings
from townsquare.channels.listeners import ListenerService
from townsquare.config import Settings
from townsquare.ids import new_id
from townsquare.model import OutboundReply, Visibility
from townsquare.runtime import Runtime
from townsquare.store import accounts

# The first run installs the network into the cache (several minutes); later runs start it in ~20 s.
pytestmark = pytest.mark.timeout(1200)

HOSTILE_NAME = '<img src=x onerror="alert(1)">Mallory</b>'


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(BlueskyConnector, "poll_interval_seconds", 0.3)


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return Settings(database_url=sqlite_url, triage="off", secret_key="test-secret-key-0123456789")


def customer(bluesky: peer.Client, prefix: str, name: str) -> peer.Account:
    account = bluesky.create_account(unique_handle(prefix))
    bluesky.set_profile(account, name)
    return account


@pytest.fixture
def company(bluesky: peer.Client) -> peer.Account:
    return customer(bluesky, "acmemobile", "Acme Mobile")


def connect(runtime: Runtime, network: peer.Network, bluesky: peer.Client, company: peer.Account) -> None:
    """Connect the company's account the way an admin would: with an app password."""
    app_password = bluesky.call(company, "POST", "com.atproto.server.createAppPassword", json={"name": "townsquare"})
    with runtime.db.write() as conn:
        accounts.upsert_account(
            conn,
            "bluesky",
            "acme",
            {"handle": company.handle, "app_password": app_password["password"], "service_url": network.pds},
        )


def test_network_listens_on_loopback_only(bluesky_network: peer.Network) -> None:
    addresses = bluesky_network.listening()
    assert addresses, "dev-env listens on no port?"
    assert all(address.startswith("127.0.0.1:") for address in addresses), addresses


def test_mention_reply_and_answer_thread_on_the_network(
    settings: Settings,
    bluesky_network: peer.Network,
    bluesky: peer.Client,
    company: peer.Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="townsquare.channels.bluesky")
    lena = customer(bluesky, "lena", "Lena Hoffmann")
    bluesky.call(
        company,
        "POST",
        "com.atproto.repo.createRecord",
        json={
            "repo": company.did,
            "collection": "app.bsky.graph.follow",
            "record": {"$type": "app.bsky.graph.follow", "subject": lena.did, "createdAt": peer.now()},
        },
    )
    runtime = Runtime.create(settings)
    connect(runtime, bluesky_network, bluesky, company)
    users = Users(runtime)
    with townsquare_server(runtime, services=[ListenerService(runtime, scan_seconds=0.2)]) as server:
        mention = bluesky.post(
            lena, f"🙁 @{company.handle} seit drei Tagen kein Internet", mention=company, langs=["de"]
        )
        [conversation] = wait_for(lambda: conversations(server.url, users), timeout=20)  # type: ignore[misc]
        assert conversation["channel"] == "bluesky" and conversation["contact_name"] == "Lena Hoffmann"
        [message] = detail(server.url, users, conversation["id"])["messages"]
        assert message["external_id"] == mention["uri"]
        assert message["text"] == mention["record"]["text"] and message["language"] == "de"
        assert message["author_handle"] == lena.handle and message["reach"] == 1

        response = httpx.post(
            f"{server.url}/api/conversations/{conversation['id']}/replies",
            json={"text": "Das tut uns leid! Wir prüfen das sofort.", "visibility": "public"},
            headers=users.headers("agent"),
        )
        assert response.status_code == 202, response.text
        sent = wait_for(
            lambda: [
                m for m in detail(server.url, users, conversation["id"])["messages"] if m["direction"] == "outbound"
            ],
            timeout=20,
        )
        reply_uri = sent[0]["external_id"]  # type: ignore[index]
        assert reply_uri.startswith(f"at://{company.did}/app.bsky.feed.post/")

        # What the customer sees: the company's reply threaded under the mention, addressed to her.
        thread = wait_for(lambda: bluesky.thread(lena, mention["uri"]).get("replies"), timeout=10)
        [company_reply] = thread  # type: ignore[misc]
        post = company_reply["post"]
        assert post["uri"] == reply_uri and post["author"]["did"] == company.did
        assert post["record"]["reply"]["root"] == {"uri": mention["uri"], "cid": mention["cid"]}
        assert post["record"]["reply"]["parent"] == {"uri": mention["uri"], "cid": mention["cid"]}
        assert post["record"]["text"] == f"@{lena.handle} Das tut uns leid! Wir prüfen das sofort."
        [facet] = post["record"]["facets"]
        assert facet["features"][0]["did"] == lena.did
        assert facet["index"] == {"byteStart": 0, "byteEnd": len(lena.handle) + 1}

        # The customer answers under the company's reply: same conversation.
        answer = bluesky.post(lena, "geht immer noch nicht 😤", reply_to=post, langs=["de"])
        wait_for(lambda: detail(server.url, users, conversation["id"])["message_count"] == 3, timeout=20)
        assert len(conversations(server.url, users)) == 1
        stored = {m["external_id"]: m for m in detail(server.url, users, conversation["id"])["messages"]}
        assert stored[answer["uri"]]["in_reply_to"] == reply_uri

        thread = bluesky.thread(lena, mention["uri"])
        nested = thread["replies"][0]["replies"][0]["post"]
        assert nested["uri"] == answer["uri"]
        assert nested["record"]["reply"]["root"]["uri"] == mention["uri"]

    # All along the real PDS could not reach a chat service: said once, and nothing stopped.
    chat = [r.getMessage() for r in caplog.records if r.name == "townsquare.channels.bluesky.chat"]
    assert len(chat) == 1 and "direct messages are not being received" in chat[0]


def test_restart_loses_and_duplicates_nothing_and_hostile_input_is_stored_as_is(
    settings: Settings, bluesky_network: peer.Network, bluesky: peer.Client, company: peer.Account
) -> None:
    lena = customer(bluesky, "lena", "Lena Hoffmann")
    mallory = customer(bluesky, "mallory", HOSTILE_NAME)
    ben = customer(bluesky, "ben", "Ben Miller")

    def total(base: str, users: Users) -> int:
        return sum(item["message_count"] for item in conversations(base, users))

    first = Runtime.create(settings)
    connect(first, bluesky_network, bluesky, company)
    users = Users(first)
    posted: list[str] = []
    with townsquare_server(first, services=[ListenerService(first, scan_seconds=0.2)]) as server:
        one = bluesky.post(lena, f"@{company.handle} Störung in 10115?", mention=company)
        hostile_text = f"<script>alert('x')</script> @{company.handle} &amp; <b>hi</b>"
        hostile = bluesky.post(mallory, hostile_text, mention=company)
        posted += [one["uri"], hostile["uri"]]
        wait_for(lambda: total(server.url, users) == 2, timeout=20)

    # Townsquare is down: the customers keep posting.
    two = bluesky.post(lena, f"@{company.handle} immer noch?", mention=company)
    # A reply in her own thread notifies the company only when it mentions it (see the README).
    three = bluesky.post(
        lena,
        f"@{company.handle} Hallo? Noch jemand da?",
        mention=company,
        reply_to=bluesky.wait_indexed(lena, one["uri"]),
    )
    four = bluesky.post(ben, f"@{company.handle} no signal in Hamburg", mention=company, langs=["en"])
    posted += [two["uri"], three["uri"], four["uri"]]

    second = Runtime.create(settings)
    with townsquare_server(second, services=[ListenerService(second, scan_seconds=0.2)]) as server:
        wait_for(lambda: total(server.url, users) == 5, timeout=30)
        time.sleep(1.5)  # several more polls: nothing comes twice
        items = conversations(server.url, users)
        assert sum(item["message_count"] for item in items) == 5
        ids = [m["external_id"] for item in items for m in detail(server.url, users, item["id"])["messages"]]
        assert sorted(ids) == sorted(posted)
        [lenas] = [item for item in items if item["contact_name"] == "Lena Hoffmann"]
        assert lenas["message_count"] == 3  # her mention, the follow-up and the reply: one conversation
        [mallorys] = [item for item in items if item["contact_name"] == HOSTILE_NAME]  # stored as is
        [message] = detail(server.url, users, mallorys["id"])["messages"]
        assert message["text"] == hostile_text
        with second.db.read() as conn:
            row = accounts.get_account(conn, "bluesky", "acme")
        assert row is not None and row["status"] == "active" and row["cursor"]


def app_password(bluesky: peer.Client, account: peer.Account, name: str = "townsquare") -> str:
    created = bluesky.call(account, "POST", "com.atproto.server.createAppPassword", json={"name": name})
    password: str = created["password"]
    return password


def test_sessions_refresh_and_retried_sends_against_the_real_pds(
    bluesky_network: peer.Network, bluesky: peer.Client, company: peer.Account
) -> None:
    lena = customer(bluesky, "lena", "Lena Hoffmann")
    settings = BlueskySettings(
        handle=company.handle, app_password=app_password(bluesky, company), service_url=bluesky_network.pds
    )
    connector = BlueskyConnector("acme", settings)
    try:
        mention = bluesky.post(lena, f"@{company.handle} 👋 hallo", mention=company)
        [message] = wait_for(lambda: connector.poll(None).messages, timeout=10)  # type: ignore[misc]
        # The real refreshSession: a new access token that works.
        before = connector.xrpc.session()
        after = connector.xrpc._refresh(before)
        rotated = after.refresh_jwt != before.refresh_jwt  # kept out of assert messages: tokens
        assert rotated and after.did == company.did
        assert connector.poll(None).messages  # the refreshed session works
        reply = OutboundReply(
            reply_id=new_id(),
            account="acme",
            text="Hallo! 👨‍👩‍👧 Wir sind da.",
            visibility=Visibility.PUBLIC,
            recipient=message.author,
            in_reply_to=message.external_id,
            thread_root=message.thread_root,
            conversation_id="c1",
        )
        first = connector.send(reply)
        # The outbox retries a reply whose answer it never got: the PDS refuses the same record
        # key and the connector reports the post the first attempt made.
        second = connector.send(reply)
        assert second.external_id == first.external_id
        replies: list[dict[str, Any]] = wait_for(  # type: ignore[assignment]
            lambda: bluesky.thread(lena, mention["uri"]).get("replies"), timeout=10
        )
        assert [r["post"]["uri"] for r in replies] == [first.external_id]
        text = replies[0]["post"]["record"]["text"]
        assert text == f"@{lena.handle} Hallo! 👨‍👩‍👧 Wir sind da."
    finally:
        connector.close()


def test_a_revoked_app_password_marks_the_account_for_reconnecting(
    settings: Settings, bluesky_network: peer.Network, bluesky: peer.Client, company: peer.Account
) -> None:
    runtime = Runtime.create(settings)
    password = app_password(bluesky, company, "revoked")
    bluesky.call(company, "POST", "com.atproto.server.revokeAppPassword", json={"name": "revoked"})
    with runtime.db.write() as conn:
        accounts.upsert_account(
            conn,
            "bluesky",
            "acme",
            {"handle": company.handle, "app_password": password, "service_url": bluesky_network.pds},
        )
    with townsquare_server(runtime, services=[ListenerService(runtime, scan_seconds=0.2)]):

        def status() -> str:
            with runtime.db.read() as conn:
                row = accounts.get_account(conn, "bluesky", "acme")
            return str(row["status"]) if row else ""

        wait_for(lambda: status() == "reconnect", timeout=10)
