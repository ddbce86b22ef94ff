"""An agent's answer as an RFC 5322 reply: "Re: <subject>", In-Reply-To and References from the
message answered, From the company's address, and a Message-ID made from the reply's id, so a
retried delivery carries the same id and the customer's answer threads back to it."""

from __future__ import annotations

import re
from datetime import datetime
from email import policy
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.utils import format_datetime

from townsquare.channels.email.headers import Address
from townsquare.channels.email.parse import MISSING_ID_DOMAIN, ParsedEmail
from townsquare.channels.email.settings import EmailSettings
from townsquare.model import OutboundReply

MAX_REFERENCES = 20
_REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|antw|r|rif|odp)\s*(\[\d+\])?\s*:", re.IGNORECASE)


def reply_subject(subject: str, fallback: str) -> str:
    subject = " ".join(subject.split())
    if not subject:
        return f"Re: {fallback}"
    return subject if _REPLY_PREFIX.match(subject) else f"Re: {subject}"


def references(original: ParsedEmail | None, reply: OutboundReply) -> list[str]:
    """The thread's ids, oldest first, ending with the message answered; long chains keep the
    root and the newest ones (RFC 5322 3.6.4)."""
    chain = list(original.record.references) if original else []
    if not chain and reply.thread_root and reply.thread_root != reply.in_reply_to:
        chain = [reply.thread_root]
    if reply.in_reply_to:
        chain.append(reply.in_reply_to)
    unique = [ref for index, ref in enumerate(chain) if ref not in chain[:index] and ref.isascii()]
    unique = [ref for ref in unique if not ref.endswith("@" + MISSING_ID_DOMAIN)]
    if len(unique) > MAX_REFERENCES:
        unique = unique[:1] + unique[-(MAX_REFERENCES - 1) :]
    return unique


def recipients(original: ParsedEmail | None, reply: OutboundReply) -> list[Address]:
    """Reply-To when the customer set one, else the sender; without the original, the address
    the conversation's contact is known by."""
    if original is not None:
        if original.record.reply_to:
            return original.record.reply_to
        if original.record.sender is not None:
            return [original.record.sender]
    for candidate in (reply.recipient.handle, reply.recipient.external_id):
        if "@" in candidate and not candidate.startswith("unknown-sender:"):
            return [Address(name=reply.recipient.display_name, address=candidate)]
    return []


def _header_address(address: Address) -> HeaderAddress:
    local, _, domain = address.address.rpartition("@")
    return HeaderAddress(display_name=address.name, username=local, domain=domain)


def message_id_for(reply: OutboundReply, settings: EmailSettings) -> str:
    return f"townsquare.{reply.reply_id}@{settings.from_domain}"


def compose_reply(
    settings: EmailSettings, reply: OutboundReply, original: ParsedEmail | None, to: list[Address], now: datetime
) -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)
    message["Message-ID"] = f"<{message_id_for(reply, settings)}>"
    message["Date"] = format_datetime(now)
    message["From"] = _header_address(Address(name=settings.from_name, address=settings.from_address))
    message["To"] = [_header_address(address) for address in to]
    fallback = f"Your message to {settings.from_name or settings.from_address}"
    message["Subject"] = reply_subject(original.record.subject if original else "", fallback)
    chain = references(original, reply)
    if reply.in_reply_to and reply.in_reply_to in chain:
        message["In-Reply-To"] = f"<{reply.in_reply_to}>"
    if chain:
        message["References"] = " ".join(f"<{ref}>" for ref in chain)
    message.set_content(reply.text)
    return message
