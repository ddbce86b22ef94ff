"""Small helpers shared by the e-mail tests: customers' mail and a look into mailboxes."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from imapclient import IMAPClient

from tests.channels.email.mailservers import MailServers, MailUser


def customer_mail(
    sender: MailUser | str,
    to: MailUser,
    subject: str,
    body: str,
    *,
    name: str = "Lena Hoffmann",
    in_reply_to: str | None = None,
    references: list[str] | None = None,
) -> EmailMessage:
    address = sender if isinstance(sender, str) else sender.address
    mail = EmailMessage()
    mail["From"] = f"{name} <{address}>"
    mail["To"] = to.address
    mail["Subject"] = subject
    mail["Message-ID"] = make_msgid(domain=address.rsplit("@", 1)[1])
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
    if references:
        mail["References"] = " ".join(references)
    mail.set_content(body)
    return mail


def message_id(mail: EmailMessage) -> str:
    return str(mail["Message-ID"]).strip("<>")


def mailbox_contents(servers: MailServers, user: MailUser, folder: str = "INBOX") -> list[dict[str, Any]]:
    """What the user's mail client sees: each message's flags and parsed headers/body."""
    with IMAPClient("127.0.0.1", port=servers.imap_port, ssl=False, timeout=10) as client:
        client.login(user.name, user.password)
        if not client.folder_exists(folder):
            return []
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        found = client.fetch(uids, ["FLAGS", "BODY.PEEK[]"]) if uids else {}
    items = []
    for uid in sorted(found):
        parsed = message_from_bytes(found[uid][b"BODY[]"], policy=policy.default)
        items.append({"uid": uid, "flags": set(found[uid][b"FLAGS"]), "message": parsed})
    return items


def set_seen(servers: MailServers, user: MailUser, uids: list[int]) -> None:
    with IMAPClient("127.0.0.1", port=servers.imap_port, ssl=False, timeout=10) as client:
        client.login(user.name, user.password)
        client.select_folder("INBOX")
        client.add_flags(uids, [b"\\Seen"])
