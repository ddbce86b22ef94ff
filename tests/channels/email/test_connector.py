"""The e-mail connector against real servers on 127.0.0.1: pymap (IMAP) and aiosmtpd (SMTP).

Receiving: cursor, first connect, batches, UIDVALIDITY resync, flag/move of processed mail, IDLE
and its polling fallback, unreadable mail. Sending: threaded replies, the company's copy, and
the server's answers (4xx, 5xx, refused login, timeouts) mapped onto the outbox's errors.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.channels.email.conftest import account_settings
from tests.channels.email.helpers import customer_mail, mailbox_contents, message_id, set_seen
from tests.channels.email.mailservers import MailServers, MailUser
from tests.conftest import wait_for
from townsquare.channels.base import DeliveryError, PollResult, ReconnectRequired
from townsquare.channels.email import connector as connector_module
from townsquare.channels.email.compose import compose_reply
from townsquare.channels.email.connector import Cursor, EmailConnector
from townsquare.channels.email.headers import Address
from townsquare.channels.email.smtp import deliver
from townsquare.config import Settings
from townsquare.model import AuthorIdentity, OutboundReply, Visibility
from townsquare.runtime import Runtime
from townsquare.store import conversations as convs


def make(servers: MailServers, company: MailUser, **overrides: object) -> EmailConnector:
    return EmailConnector("acme", account_settings(servers, company, **overrides))


def send_many(servers: MailServers, customer: MailUser, company: MailUser, count: int, start: int = 0) -> list[str]:
    ids = []
    for index in range(start, start + count):
        mail = customer_mail(customer, company, f"Problem {index}", f"Text {index}")
        servers.send(mail, customer.address, [company.address])
        ids.append(message_id(mail))
    return ids


def drain(connector: EmailConnector, cursor: str | None) -> tuple[list[str], str | None]:
    """Poll until nothing new, like the listener's catch-up; returns ids in order."""
    ids: list[str] = []
    for _ in range(50):
        result = connector.poll(cursor)
        ids.extend(message.external_id for message in result.messages)
        if not result.messages and result.cursor == cursor:
            return ids, cursor
        cursor = result.cursor
    raise AssertionError("poll never caught up")


def message_id_of(item: dict[str, object]) -> str:
    return str(item["message"]["Message-ID"]).strip("<>")  # type: ignore[index]


def wait_for_delivery(servers: MailServers, user: MailUser, count: int, folder: str = "INBOX") -> None:
    wait_for(lambda: len(mailbox_contents(servers, user, folder)) >= count, timeout=10, interval=0.2)


# -- receiving -------------------------------------------------------------------------------


def test_poll_reads_new_mail_once_and_flags_it_after_it_is_stored(
    mail_servers: MailServers, company: MailUser, customer: MailUser
) -> None:
    sent = send_many(mail_servers, customer, company, 3)
    wait_for_delivery(mail_servers, company, 3)
    email = make(mail_servers, company)
    first = email.poll(None)
    # The server numbers mail in the order it finds it in the Maildir, not the order sent.
    assert sorted(m.external_id for m in first.messages) == sorted(sent)
    message = next(m for m in first.messages if m.external_id == sent[0])
    assert message.author.external_id == customer.address and message.author.display_name == "Lena Hoffmann"
    assert message.text == "Problem 0\n\nText 0"
    assert message.raw["imap"]["folder"] == "INBOX"
    uids = [m.raw["imap"]["uid"] for m in first.messages]
    assert uids == sorted(uids)
    assert first.cursor == f"{first.messages[0].raw['imap']['uidvalidity']}:{uids[-1]}"
    # Not yet flagged: the runtime has not said it stored them (it does by polling on).
    assert all(b"\\Seen" not in item["flags"] for item in mailbox_contents(mail_servers, company))
    again = email.poll(first.cursor)
    assert again.messages == [] and again.cursor == first.cursor
    assert all(b"\\Seen" in item["flags"] for item in mailbox_contents(mail_servers, company))
    later = send_many(mail_servers, customer, company, 1, start=3)
    wait_for_delivery(mail_servers, company, 4)
    assert [m.external_id for m in email.poll(first.cursor).messages] == later


def test_first_connect_reads_unread_mail_only(mail_servers: MailServers, company: MailUser, customer: MailUser) -> None:
    sent = send_many(mail_servers, customer, company, 3)
    wait_for_delivery(mail_servers, company, 3)
    read = next(item for item in mailbox_contents(mail_servers, company) if message_id_of(item) == sent[1])
    set_seen(mail_servers, company, [read["uid"]])
    ids, cursor = drain(make(mail_servers, company), None)
    assert sorted(ids) == sorted([sent[0], sent[2]])  # the one an agent already read elsewhere stays out
    assert cursor is not None and Cursor.parse(cursor) is not None


def test_batches_resume_from_the_cursor(
    mail_servers: MailServers, company: MailUser, customer: MailUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connector_module, "BATCH_SIZE", 2)
    sent = send_many(mail_servers, customer, company, 5)
    wait_for_delivery(mail_servers, company, 5)
    first = make(mail_servers, company).poll(None)
    assert len(first.messages) == 2
    # A fresh connector (a restart: the backlog in memory is gone) goes on from the cursor.
    ids, _ = drain(make(mail_servers, company), first.cursor)
    everything = [m.external_id for m in first.messages] + ids
    assert sorted(everything) == sorted(sent)  # each once


def test_uidvalidity_change_resyncs_without_losing_or_duplicating(
    mail_servers: MailServers, company: MailUser, customer: MailUser, sqlite_url: str
) -> None:
    runtime = Runtime.create(Settings(database_url=sqlite_url, triage="off"))
    try:
        email = make(mail_servers, company)
        send_many(mail_servers, customer, company, 2)
        wait_for_delivery(mail_servers, company, 2)
        first = email.poll(None)
        runtime.pipeline.process(first.messages)
        email.poll(first.cursor)  # stored: now flagged
        # The server renumbers the folder (a restore, a migration): new UIDVALIDITY, new UIDs.
        uidlist = mail_servers.maildir(company) / "dovecot-uidlist"
        header, *records = uidlist.read_text().splitlines()
        old_validity = header.split()[1]
        uidlist.write_text("\n".join([header.replace(old_validity, "V77"), *records]) + "\n")
        send_many(mail_servers, customer, company, 1, start=2)
        wait_for_delivery(mail_servers, company, 3)
        resynced = email.poll(first.cursor)
        assert Cursor.parse(resynced.cursor) == Cursor(77, Cursor.parse(resynced.cursor).last_uid)  # type: ignore[union-attr]
        assert len(resynced.messages) == 3  # recent mail again, for dedupe to sort out
        runtime.pipeline.process(resynced.messages)
        with runtime.db.read() as conn:
            rows, _ = convs.list_conversations(conn, convs.ConversationFilter(channel="email"), limit=50)
        assert sum(row["message_count"] for row in rows) == 3
    finally:
        runtime.stop()


def test_move_mode_moves_stored_mail_and_replies_still_find_it(
    mail_servers: MailServers, company: MailUser, customer: MailUser
) -> None:
    email = make(mail_servers, company, processed="move", processed_folder="Done")
    [sent] = send_many(mail_servers, customer, company, 1)
    wait_for_delivery(mail_servers, company, 1)
    first = email.poll(None)
    email.poll(first.cursor)
    assert mailbox_contents(mail_servers, company) == []
    assert len(mailbox_contents(mail_servers, company, "Done")) == 1
    receipt = email.send(reply_to(first.messages[0].external_id, customer))
    wait_for_delivery(mail_servers, customer, 1)
    [answer] = mailbox_contents(mail_servers, customer)
    assert answer["message"]["Subject"] == "Re: Problem 0"  # the original was found in Done
    assert answer["message"]["In-Reply-To"] == f"<{sent}>"
    assert receipt.external_id == str(answer["message"]["Message-ID"]).strip("<>")


def collect_stream(
    email: EmailConnector, cursor: str | None
) -> tuple[list[PollResult], threading.Event, threading.Thread]:
    results: list[PollResult] = []
    stop = threading.Event()

    def run() -> None:
        for result in email.stream(cursor, stop):
            results.append(result)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return results, stop, thread


@pytest.mark.parametrize("idle", [True, False], ids=["idle", "polling"])
def test_stream_delivers_new_mail_as_it_arrives(
    mail_servers: MailServers, company: MailUser, customer: MailUser, idle: bool
) -> None:
    email = make(mail_servers, company, idle=idle, poll_seconds=1)
    start = email.poll(None)
    results, stop, thread = collect_stream(email, start.cursor)
    try:
        time.sleep(0.5)  # inside IDLE (or its pause) by now
        [sent] = send_many(mail_servers, customer, company, 1)
        wait_for(lambda: any(r.messages for r in results), timeout=15)
        [batch] = [r for r in results if r.messages]
        assert [m.external_id for m in batch.messages] == [sent]
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()  # stop is honoured within a second or two
    # Resuming after the yield flagged the batch: it was stored.
    assert all(b"\\Seen" in item["flags"] for item in mailbox_contents(mail_servers, company))


def test_wrong_password_needs_reconnect(mail_servers: MailServers, company: MailUser) -> None:
    email = make(mail_servers, company, password="not the password")
    with pytest.raises(ReconnectRequired):
        email.poll(None)
    with pytest.raises(ReconnectRequired):
        email.send(reply_to("x@example.net", company))


def test_unreadable_mail_is_logged_and_skipped_and_the_rest_arrives(
    mail_servers: MailServers,
    company: MailUser,
    customer: MailUser,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sent = send_many(mail_servers, customer, company, 3)
    fixtures = Path(connector_module.__file__).parent / "fixtures"
    for name in ("message__malformed_mime.eml", "message__hostile_html.eml"):
        mail_servers.send((fixtures / name).read_bytes(), "someone@example.com", [company.address])
    wait_for_delivery(mail_servers, company, 5)
    real = connector_module.read_message

    def exploding(data: bytes, **kwargs: bool):  # type: ignore[no-untyped-def]
        if b"Text 1" in data:
            raise RecursionError("a parser bug")
        return real(data, **kwargs)

    monkeypatch.setattr(connector_module, "read_message", exploding)
    with caplog.at_level(logging.WARNING):
        ids, cursor = drain(make(mail_servers, company), None)
    assert sorted(ids) == sorted([sent[0], sent[2], "broken.mime.42@example.com", "hostile-7731@example.com"])
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("townsquare"))
    assert "skipping unreadable message" in ours and "RecursionError" in ours
    assert "Text 1" not in ours  # content never reaches the log
    assert cursor is not None


def test_huge_mail_is_fetched_partially_and_cut(
    mail_servers: MailServers, company: MailUser, customer: MailUser
) -> None:
    mail = customer_mail(customer, company, "Logs attached", "Here are my router logs.\n" + "log line\n" * 30_000)
    mail.add_attachment(b"\0" * 3_000_000, maintype="application", subtype="octet-stream", filename="dump.bin")
    mail_servers.send(mail, customer.address, [company.address])
    wait_for_delivery(mail_servers, company, 1)
    [message] = make(mail_servers, company).poll(None).messages
    assert message.text.startswith("Logs attached\n\nHere are my router logs.")
    assert message.text.endswith("more characters cut]")
    assert message.raw["truncated"] is True


# -- sending ---------------------------------------------------------------------------------


def reply_to(in_reply_to: str, customer: MailUser, visibility: Visibility = Visibility.PRIVATE) -> OutboundReply:
    return OutboundReply(
        reply_id="01J0REPLY0000000000000001",
        account="acme",
        text="Guten Tag Frau Hoffmann,\n\nwir haben die Störung behoben.\n\nIhr Acme-Team",
        visibility=visibility,
        recipient=AuthorIdentity(external_id=customer.address, handle=customer.address, display_name="Lena"),
        in_reply_to=in_reply_to,
        thread_root=in_reply_to,
        conversation_id="c1",
    )


def test_reply_is_threaded_and_kept_in_the_sent_folder(
    mail_servers: MailServers, company: MailUser, customer: MailUser
) -> None:
    original = customer_mail(customer, company, "Kein Internet", "Seit Freitag.", references=["<root@example.net>"])
    original["Reply-To"] = f"Lena privat <{customer.address}>"
    mail_servers.send(original, customer.address, [company.address])
    wait_for_delivery(mail_servers, company, 1)
    email = make(mail_servers, company, sent_folder="Sent")
    [incoming] = email.poll(None).messages
    receipt = email.send(reply_to(incoming.external_id, customer))
    wait_for_delivery(mail_servers, customer, 1)
    [answer] = mailbox_contents(mail_servers, customer)
    headers = answer["message"]
    assert headers["Subject"] == "Re: Kein Internet"
    assert headers["From"] == f"Acme Support <{company.address}>"
    assert headers["To"] == f"Lena privat <{customer.address}>"
    assert headers["In-Reply-To"] == f"<{incoming.external_id}>"
    assert headers["References"].split() == ["<root@example.net>", f"<{incoming.external_id}>"]
    assert headers["Message-ID"] == f"<townsquare.01J0REPLY0000000000000001@{company.domain}>"
    assert receipt.external_id == f"townsquare.01J0REPLY0000000000000001@{company.domain}"
    assert answer["message"].get_content().startswith("Guten Tag Frau Hoffmann,\n\nwir haben die Störung behoben.")
    [copy] = mailbox_contents(mail_servers, company, "Sent")
    assert copy["message"]["Message-ID"] == headers["Message-ID"] and b"\\Seen" in copy["flags"]
    # The company's own mail is never read back as a customer's.
    mail_servers.send(copy["message"].as_bytes(), company.address, [company.address])
    wait_for_delivery(mail_servers, company, 2)
    assert make(mail_servers, company).poll(email.poll(None).cursor).messages == []


def test_public_replies_do_not_exist_on_email(mail_servers: MailServers, company: MailUser, customer: MailUser) -> None:
    assert EmailConnector.limits.public_replies is False
    with pytest.raises(DeliveryError) as raised:
        make(mail_servers, company).send(reply_to("x@example.net", customer, Visibility.PUBLIC))
    assert raised.value.retryable is False


def test_reply_without_the_original_still_threads(
    mail_servers: MailServers, company: MailUser, customer: MailUser
) -> None:
    make(mail_servers, company).send(reply_to("gone-from-the-mailbox@example.net", customer))
    wait_for_delivery(mail_servers, customer, 1)
    [answer] = mailbox_contents(mail_servers, customer)
    assert answer["message"]["Subject"] == "Re: Your message to Acme Support"
    assert answer["message"]["In-Reply-To"] == "<gone-from-the-mailbox@example.net>"
    assert answer["message"]["To"] == f"Lena <{customer.address}>"


def test_reply_goes_out_while_imap_is_unreachable(
    mail_servers: MailServers, company: MailUser, customer: MailUser
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    make(mail_servers, company, imap_port=port).send(reply_to("somewhere@example.net", customer))
    wait_for_delivery(mail_servers, customer, 1)
    [answer] = mailbox_contents(mail_servers, customer)
    assert answer["message"]["In-Reply-To"] == "<somewhere@example.net>"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(5)
        yield sock.getsockname()[1]


def smtp_attempt(servers: MailServers, company: MailUser, to: str, **overrides: object) -> DeliveryError:
    settings = account_settings(servers, company, **overrides)
    reply = reply_to("x@example.net", MailUser(to.split("@")[0], to.split("@")[1], ""))
    message = compose_reply(settings, reply, None, [Address(address=to)], __import__("datetime").datetime.now())
    with pytest.raises(DeliveryError) as raised:
        deliver(settings, message, [to], timeout=1.0)
    return raised.value


def test_smtp_answers_map_onto_delivery_errors(
    mail_servers: MailServers, company: MailUser, silent_server: int
) -> None:
    deferred = smtp_attempt(mail_servers, company, "defer-me@example.net")
    assert type(deferred) is DeliveryError and deferred.retryable and "451" in str(deferred)
    refused = smtp_attempt(mail_servers, company, "reject-me@example.net")
    assert type(refused) is DeliveryError and not refused.retryable and "550" in str(refused)
    login = smtp_attempt(mail_servers, company, "lena@example.net", password="wrong")
    assert isinstance(login, ReconnectRequired) and not login.retryable
    timeout = smtp_attempt(mail_servers, company, "lena@example.net", smtp_port=silent_server)
    assert type(timeout) is DeliveryError and timeout.retryable
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    unreachable = smtp_attempt(mail_servers, company, "lena@example.net", smtp_port=port)
    assert type(unreachable) is DeliveryError and unreachable.retryable
    no_starttls = smtp_attempt(mail_servers, company, "lena@example.net", smtp_starttls=True)
    assert type(no_starttls) is DeliveryError and not no_starttls.retryable
