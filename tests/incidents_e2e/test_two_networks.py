"""One outage, two networks: customers report it on the demo network and on a real Mastodon API
server (mastodon-mock) at the same time; Townsquare opens one incident for both; one update
answers every customer threaded under their own post on their own network; the company's
accounts on both networks post the update; resolving tells everyone."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.channels.mastodon.conftest import mastodon, mastodon_server  # noqa: F401 - fixtures
from tests.channels.mastodon.peer import MastodonMock, User
from tests.conftest import Users, free_port, townsquare_server, wait_for
from tests.incidents_e2e.outage import (
    EXPECTED,
    REPORTS,
    RESOLVED,
    UPDATE,
    brand_posts,
    connect_demo,
    demo_network,
    reply_to,
    usual_traffic,
)
from townsquare.channels.demo.payloads import DemoPost, DemoUser
from townsquare.channels.listeners import ListenerService
from townsquare.config import Settings
from townsquare.runtime import Runtime
from townsquare.store import accounts


def post_report(peer: MastodonMock, person: User, text: str) -> dict[str, Any]:
    """mastodon-mock (a test double on SQLite) now and then answers 500 under concurrent load;
    a customer's app would retry, so do we."""
    for _ in range(5):
        try:
            return peer.post(person, text)
        except httpx.HTTPStatusError as error:
            if error.response.status_code < 500:
                raise
            time.sleep(0.2)
    return peer.post(person, text)


def replies_on_mastodon(peer: MastodonMock, viewer: User, status_id: str) -> list[dict[str, Any]]:
    thread: dict[str, Any] = peer.get(viewer, f"/api/v1/statuses/{status_id}/context")
    return [s for s in thread["descendants"] if s["account"]["acct"] == "acme"]


def test_burst_on_two_networks_is_one_incident_answered_everywhere(sqlite_url: str, mastodon: MastodonMock) -> None:  # noqa: F811
    acme = mastodon.create_user("acme", "Acme Mobile")
    network_port, port = free_port(), free_port()
    network, network_server = demo_network(network_port, port)
    settings = Settings(
        database_url=sqlite_url,
        triage="off",
        public_url=f"http://127.0.0.1:{port}",
        status_accounts=["demo/acme", "mastodon/acme"],
        outbox_poll_seconds=0.1,
    )
    runtime = Runtime.create(settings)
    connect_demo(runtime, network)
    with runtime.db.write() as conn:
        accounts.upsert_account(
            conn, "mastodon", "acme", {"base_url": mastodon.url, "access_token": acme.token, "handle": "acme"}
        )
    agent = Users(runtime).headers("agent")
    runtime.pipeline.process(usual_traffic())
    # Accounts are made before Townsquare listens: mastodon-mock (a test double on SQLite) answers
    # 500 now and then when accounts are created while a stream is open.
    reporters = {index: mastodon.create_user(f"reporter{index}", f"Reporter {index}") for index in range(1, 16, 2)}
    listeners = ListenerService(runtime, scan_seconds=0.2)
    with network_server, townsquare_server(runtime, services=[listeners], port=port) as server:
        network.start()
        wait_for(lambda: listeners._listeners)  # the Mastodon stream is listening
        on_demo: dict[str, tuple[str, DemoPost]] = {}
        on_mastodon: dict[str, tuple[str, User, dict[str, Any]]] = {}
        for index in range(16):
            lang, text = REPORTS[index % len(REPORTS)]
            if index % 2:
                person = reporters[index]
                on_mastodon[person.acct] = (lang, person, post_report(mastodon, person, text))
            else:
                customer = DemoUser(id=f"r{index}", handle=f"reporter{index}", name=f"Reporter {index}")
                on_demo[customer.handle] = (lang, network.publish(customer, text, lang=lang))

        def incident() -> dict[str, Any] | None:
            found = httpx.get(f"{server.url}/api/incidents", headers=agent).json()
            if len(found) != 1:
                return None
            detail: dict[str, Any] = httpx.get(f"{server.url}/api/incidents/{found[0]['id']}", headers=agent).json()
            return detail if {c["channel"] for c in detail["conversations"]} == {"demo", "mastodon"} else None

        opened: dict[str, Any] = wait_for(incident, timeout=30)  # type: ignore[assignment]
        wait_for(lambda: (incident() or {}).get("conversation_count", 0) >= 14, timeout=30)
        grouped = {c["contact_name"] for c in (incident() or {})["conversations"]}

        response = httpx.post(f"{server.url}/api/incidents/{opened['id']}/updates", json=UPDATE, headers=agent)
        assert response.status_code == 201, response.text
        for handle, (lang, post) in on_demo.items():
            if f"Reporter {handle.removeprefix('reporter')}" in grouped:
                reply = wait_for(lambda post=post, handle=handle: reply_to(network, post, handle), timeout=20)
                assert EXPECTED[lang] in reply.text and reply.in_reply_to == post.id  # type: ignore[attr-defined]
        for acct, (lang, person, status) in on_mastodon.items():
            if f"Reporter {acct.removeprefix('reporter')}" in grouped:
                [reply] = wait_for(  # type: ignore[misc]
                    lambda person=person, status=status: replies_on_mastodon(mastodon, person, status["id"]),
                    timeout=20,
                )
                assert EXPECTED[lang] in reply["content"] and reply["in_reply_to_id"] == status["id"]
        # Both company accounts posted the update with a link to the status page.
        wait_for(lambda: [p for p in brand_posts(network, top_level=True) if "/status/incidents/" in p.text])
        wait_for(
            lambda: [
                s
                for s in mastodon.get(acme, f"/api/v1/accounts/{acme.id}/statuses")
                if s["in_reply_to_id"] is None and "/status/incidents/" in s["content"]
            ]
        )

        assert (
            httpx.post(f"{server.url}/api/incidents/{opened['id']}/updates", json=RESOLVED, headers=agent).status_code
            == 201
        )
        for _acct, (_lang, person, status) in on_mastodon.items():
            if f"Reporter {_acct.removeprefix('reporter')}" in grouped:
                wait_for(
                    lambda person=person, status=status: len(replies_on_mastodon(mastodon, person, status["id"])) == 2,
                    timeout=20,
                )
        page = httpx.get(f"{server.url}/status").text
        assert "Mobile data is down in Berlin" in page and "works again" in page
