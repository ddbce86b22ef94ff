"""E-mail end to end, against real servers on 127.0.0.1: a customer's mail goes through the SMTP
server into the company's Maildir, Townsquare's listener reads it over IMAP (IDLE) into a
conversation, an agent answers through the API (privately: e-mail has no public replies), the
answer arrives threaded in the customer's Maildir, and the customer's next mail joins the same
conversation. A restart in the middle loses and duplicates nothing, and hostile or broken mail
is stored as text while the listener keeps running."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.api_client import conversations, detail
from tests.channels.email.conftest import account_settings
from tests.channels.email.helpers import customer_mail, mailbox_contents, message_id
from tests.channels.email.mailservers import MailServers, MailUser
from tests.conftest import Users, townsquare_server, wait_for
from townsquare.channels.listeners import ListenerService
from townsquare.config import Settings
from townsquare.runtime import Runtime
from townsquare.store import accounts

FIXTURES = Path(__file__).resolve().parents[3] / "src" / "townsquare" / "channels" / "email" / "fixtures"


def connect(runtime: Runtime, servers: MailServers, company: MailUser) -> None:
    settings = account_settings(servers, company)
    stored = settings.model_dump(mode="json")
    stored["password"] = settings.password.get_secret_value()
    with runtime.db.write() as conn:
        accounts.upsert_account(conn, "email", "acme", stored)


def serve(runtime: Runtime) -> Any:
    return townsquare_server(runtime, services=[ListenerService(runtime, scan_seconds=0.5)])


def test_mail_becomes_a_conversation_and_the_private_reply_threads(
    sqlite_url: str, mail_servers: MailServers, company: MailUser, customer: MailUser
) -> None:
    runtime = Runtime.create(Settings(database_url=sqlite_url, triage="off"))
    connect(runtime, mail_servers, company)
    users = Users(runtime)
    with serve(runtime) as server:
        first = customer_mail(customer, company, "Kein Internet seit Freitag", "Der Router blinkt rot.")
        mail_servers.send(first, customer.address, [company.address])
        [conversation] = wait_for(lambda: conversations(server.url, users), timeout=20)  # type: ignore[misc]
        assert conversation["channel"] == "email" and conversation["contact_name"] == "Lena Hoffmann"
        assert conversation["subject"] == "Kein Internet seit Freitag Der Router blinkt rot."
        assert conversation["has_private"] and not conversation["has_public"]

        # E-mail has no public replies: the API refuses and says to answer privately.
        refused = httpx.post(
            f"{server.url}/api/conversations/{conversation['id']}/replies",
            json={"text": "Wir prüfen das.", "visibility": "public"},
            headers=users.headers("agent"),
        )
        assert 400 <= refused.status_code < 500 and "privately" in refused.text

        accepted = httpx.post(
            f"{server.url}/api/conversations/{conversation['id']}/replies",
            json={"text": "Guten Tag Frau Hoffmann,\nwir haben eine Störung gefunden.", "visibility": "private"},
            headers=users.headers("agent"),
        )
        assert accepted.status_code == 202, accepted.text
        [answer] = wait_for(lambda: mailbox_contents(mail_servers, customer), timeout=20)  # type: ignore[misc]
        reply = answer["message"]
        assert reply["Subject"] == "Re: Kein Internet seit Freitag"
        assert reply["From"] == f"Acme Support <{company.address}>"
        assert reply["In-Reply-To"] == f"<{message_id(first)}>"
        assert reply["References"].split() == [f"<{message_id(first)}>"]
        assert "wir haben eine Störung gefunden." in reply.get_content()
        outbound = wait_for(
            lambda: [
                m for m in detail(server.url, users, conversation["id"])["messages"] if m["direction"] == "outbound"
            ]
        )
        assert outbound[0]["external_id"] == str(reply["Message-ID"]).strip("<>")  # type: ignore[index]
        assert outbound[0]["visibility"] == "private"  # type: ignore[index]

        # The customer answers the reply, quoting it: same conversation, quote trimmed.
        second = customer_mail(
            customer,
            company,
            "Re: Kein Internet seit Freitag",
            "Geht immer noch nicht.\n\nOn Mon, 3 Jun 2024, Acme Support wrote:\n> Guten Tag Frau Hoffmann,\n",
            in_reply_to=str(reply["Message-ID"]),
            references=[f"<{message_id(first)}>", str(reply["Message-ID"])],
        )
        mail_servers.send(second, customer.address, [company.address])
        wait_for(lambda: detail(server.url, users, conversation["id"])["message_count"] == 3, timeout=20)
        assert len(conversations(server.url, users)) == 1
        messages = detail(server.url, users, conversation["id"])["messages"]
        latest = next(m for m in messages if m["external_id"] == message_id(second))
        assert latest["text"] == "Geht immer noch nicht."
        assert latest["in_reply_to"] == str(reply["Message-ID"]).strip("<>")
        # Stored mail is flagged \Seen in the company's mailbox.
        wait_for(
            lambda: all(b"\\Seen" in item["flags"] for item in mailbox_contents(mail_servers, company)), timeout=10
        )


def test_restart_loses_and_duplicates_nothing_and_bad_mail_does_not_stop_it(
    sqlite_url: str, mail_servers: MailServers, company: MailUser
) -> None:
    settings = Settings(database_url=sqlite_url, triage="off")
    first_runtime = Runtime.create(settings)
    connect(first_runtime, mail_servers, company)
    users = Users(first_runtime)
    sent: list[bytes] = []

    def send(index: int) -> None:
        mail = customer_mail(f"c{index}@example.net", company, f"Störung {index}", f"Text {index}", name=f"C {index}")
        sent.append(mail.as_bytes())
        mail_servers.send(mail, f"c{index}@example.net", [company.address])

    with serve(first_runtime) as server:
        for index in range(3):
            send(index)
        wait_for(lambda: len(conversations(server.url, users)) == 3, timeout=20)
    # Townsquare is down: mail keeps arriving, one of it a second delivery of an earlier
    # message (same Message-ID), plus hostile and broken mail.
    for index in range(3, 5):
        send(index)
    mail_servers.send(sent[0], "c0@example.net", [company.address])
    for name in ("message__hostile_html.eml", "message__malformed_mime.eml"):
        mail_servers.send((FIXTURES / name).read_bytes(), "x@example.com", [company.address])
    time.sleep(0.5)

    second_runtime = Runtime.create(settings)
    with serve(second_runtime) as server:
        wait_for(lambda: len(conversations(server.url, users)) == 7, timeout=20)
        send(5)  # and the listener is still running
        wait_for(lambda: len(conversations(server.url, users)) == 8, timeout=20)
        time.sleep(1.0)
        items = conversations(server.url, users)
        assert len(items) == 8
        assert sum(item["message_count"] for item in items) == 8
        hostile = next(item for item in items if item["contact_name"] == "<script>alert('name')</script>")
        [message] = detail(server.url, users, hostile["id"])["messages"]
        assert message["text"].startswith("<img src=x onerror=alert(1)> urgent\n\nPlease click here")
        assert "document.cookie" not in message["text"]
        broken = next(item for item in items if item["contact_name"] == "Broken Client")
        assert broken["message_count"] == 1
