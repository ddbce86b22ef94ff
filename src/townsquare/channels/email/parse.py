"""One RFC 5322 message (bytes, as fetched from IMAP) into a typed record and an InboundMessage.

The parser never raises on malformed MIME: Python's `email` package records defects instead, and
every header and part is decoded defensively (unknown charsets and broken encodings become
replacement characters). The text is the text/plain part, or the HTML part converted to text;
quoted history is trimmed from it and kept in the raw record with the headers, the attachment
list (names, types, sizes; never their content) and the IMAP position.

The subject goes at the top of the text ("Subject\\n\\nbody") for a message that starts a
thread (no In-Reply-To or References), so the conversation's title is the e-mail's subject; in
replies it would only repeat "Re: ..." and stays in `raw["subject"]` (always set).
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Literal

from pydantic import BaseModel, Field

from townsquare.channels.email.headers import Address, addresses, decode_text, message_ids
from townsquare.channels.email.html_text import html_to_text
from townsquare.channels.email.quotes import trim_quotes
from townsquare.model import MAX_TEXT_CHARS, AuthorIdentity, InboundMessage, Visibility

log = logging.getLogger(__name__)

MAX_QUOTED_CHARS = 20_000
MAX_SUBJECT_CHARS = 998  # RFC 5322's line limit
MAX_PARTS = 200
"""Parts looked at per message: a hostile message with thousands of parts costs no more."""
MISSING_ID_DOMAIN = "missing-message-id.invalid"


class Attachment(BaseModel):
    filename: str | None = Field(default=None, max_length=512)
    content_type: str = Field(max_length=255)
    size: int = Field(ge=0, description="Decoded size in bytes.")


class ImapPosition(BaseModel):
    folder: str
    uidvalidity: int
    uid: int


class EmailRecord(BaseModel):
    """What is kept in `InboundMessage.raw` for an e-mail: headers and structure, never the
    attachments' content."""

    message_id: str | None = Field(description="The Message-ID header as sent (None when missing).")
    subject: str = ""
    sender: Address | None = Field(default=None, description="From (or Sender / Reply-To when From is missing).")
    to: list[Address] = Field(default_factory=list)
    cc: list[Address] = Field(default_factory=list)
    reply_to: list[Address] = Field(default_factory=list)
    date: str | None = Field(default=None, description="The Date header as sent.")
    in_reply_to: list[str] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)
    content_type: str = "text/plain"
    language: str | None = None
    auto_submitted: str | None = Field(default=None, description="Auto-Submitted header (auto-replies, bounces).")
    text_source: Literal["plain", "html", "none"] = "none"
    quoted: str = Field(default="", description="Quoted history trimmed from the text.")
    attachments: list[Attachment] = Field(default_factory=list)
    defects: list[str] = Field(default_factory=list, description="MIME defects Python's parser found.")
    truncated: bool = Field(default=False, description="The text (or the fetched message) was cut.")
    size: int = Field(default=0, ge=0, description="Size of the message in bytes.")
    imap: ImapPosition | None = None


class ParsedEmail(BaseModel):
    record: EmailRecord
    message_id: str = Field(description="Normalized Message-ID, or a stable one made from the content.")
    text: str = Field(description="Body text with quoted history removed, before the subject is added.")
    date: datetime | None = None


# -- MIME --------------------------------------------------------------------------------------


def _header(message: Message, name: str) -> str | None:
    """The first value of a header, decoded; read from the raw items so a header the policy
    cannot parse still gives its text."""
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() == wanted:
            return decode_text(str(value)) if value is not None else None
    return None


def _raw_header(message: Message, name: str) -> str | None:
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() == wanted:
            return str(value)
    return None


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return None
    return decode_text(name)[:512] if name else None


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        return b""
    return data if isinstance(data, bytes) else b""


def _part_text(part: Message) -> str:
    data = _payload(part)
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    for candidate in (charset, "utf-8"):
        if not candidate or candidate in ("unknown-8bit", "x-unknown"):
            continue
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    # Neither the declared charset nor UTF-8: Windows-1252 maps every byte, so nothing is lost
    # but a few symbols; it is what unlabelled 8-bit mail usually is.
    return data.decode("cp1252", errors="replace")


class _Body:
    def __init__(self) -> None:
        self.plain: str | None = None
        self.html: str | None = None
        self.attachments: list[Attachment] = []
        self.defects: set[str] = set()
        self.parts = 0

    def visit(self, part: Message) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            return
        content_type = _content_type(part)
        self.defects.update(type(defect).__name__ for defect in part.defects)
        if part.is_multipart():
            payload = part.get_payload()
            for child in payload if isinstance(payload, list) else []:
                if isinstance(child, Message):
                    self.visit(child)
            return
        filename = _filename(part)
        if content_type == "message/rfc822" or _disposition(part) == "attachment" or filename:
            # A forwarded message is an attachment too: its text is not what the customer wrote.
            self.attachments.append(Attachment(filename=filename, content_type=content_type, size=len(_payload(part))))
        elif content_type == "text/plain" and self.plain is None:
            self.plain = _part_text(part)
        elif content_type == "text/html" and self.html is None:
            self.html = _part_text(part)
        elif content_type not in ("text/plain", "text/html"):
            self.attachments.append(Attachment(filename=None, content_type=content_type, size=len(_payload(part))))


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _language(value: str | None) -> str | None:
    if not value:
        return None
    tag = value.split(",")[0].strip().lower()
    return tag if re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]{2,8})?", tag) else None


def synthesized_id(data: bytes) -> str:
    """A stable id for a message without Message-ID: the same bytes give the same id, whichever
    UID or UIDVALIDITY the server gives them, so a resync stores it once."""
    return f"{hashlib.sha256(data).hexdigest()[:40]}@{MISSING_ID_DOMAIN}"


def cut_text(text: str, limit: int) -> tuple[str, bool]:
    """Cut at a line or word boundary near `limit`, with a visible note of what was left out."""
    if len(text) <= limit:
        return text, False
    note_room = 60
    head = text[: limit - note_room]
    line_end = head.rfind("\n")
    word_end = head.rfind(" ")
    if line_end > len(head) - 2_000:
        head = head[:line_end]
    elif word_end > len(head) - 200:
        head = head[:word_end]
    head = head.rstrip()
    omitted = len(text) - len(head)
    return f"{head}\n\n[… {omitted} more characters cut]", True


def read_message(data: bytes, *, fetched_partially: bool = False) -> ParsedEmail:
    """Parse one message; never raises for malformed input."""
    message = message_from_bytes(data, policy=policy.default)
    body = _Body()
    body.visit(message)
    if body.plain is not None and body.plain.strip():
        text, source = body.plain, "plain"
    elif body.html is not None:
        text, source = html_to_text(body.html), "html"
    else:
        text, source = body.plain or "", "plain" if body.plain is not None else "none"
    trimmed = trim_quotes(text.replace("\r\n", "\n").replace("\r", "\n"))
    quoted, _ = cut_text(trimmed.quoted, MAX_QUOTED_CHARS)
    raw_id = _raw_header(message, "Message-ID")
    ids = message_ids(raw_id)
    in_reply_to = message_ids(_raw_header(message, "In-Reply-To"))
    references = message_ids(_raw_header(message, "References"))[:50]
    sender = (
        addresses(_raw_header(message, "From"), 1)
        or addresses(_raw_header(message, "Sender"), 1)
        or addresses(_raw_header(message, "Reply-To"), 1)
    )
    date_header = _header(message, "Date")
    record = EmailRecord(
        message_id=decode_text(raw_id)[:512] if raw_id else None,
        subject=(_header(message, "Subject") or "")[:MAX_SUBJECT_CHARS],
        sender=sender[0] if sender else None,
        to=addresses(_raw_header(message, "To")),
        cc=addresses(_raw_header(message, "Cc")),
        reply_to=addresses(_raw_header(message, "Reply-To"), 10),
        date=date_header[:200] if date_header else None,
        in_reply_to=in_reply_to[:5],
        references=references,
        content_type=_content_type(message),
        language=_language(_header(message, "Content-Language")),
        auto_submitted=(_header(message, "Auto-Submitted") or None),
        text_source=source,
        quoted=quoted,
        attachments=body.attachments[:100],
        defects=sorted(body.defects)[:20],
        truncated=fetched_partially,
        size=len(data),
    )
    return ParsedEmail(
        record=record,
        message_id=ids[0] if ids else synthesized_id(data),
        text=trimmed.text,
        date=_date(date_header),
    )


def to_inbound(
    parsed: ParsedEmail,
    *,
    channel: str,
    account: str,
    received_at: datetime | None = None,
    position: ImapPosition | None = None,
) -> InboundMessage:
    record = parsed.record
    parent = record.in_reply_to[0] if record.in_reply_to else (record.references[-1] if record.references else None)
    root = record.references[0] if record.references else parent
    text = parsed.text
    if parent is None and record.subject:
        text = f"{record.subject}\n\n{text}" if text else record.subject
    text, cut = cut_text(text, MAX_TEXT_CHARS)
    record = record.model_copy(update={"truncated": record.truncated or cut, "imap": position})
    sender = record.sender
    if sender is not None:
        author = AuthorIdentity(
            external_id=sender.address.lower(), handle=sender.address.lower(), display_name=sender.name
        )
    else:
        # Nobody to answer and nobody to group by: each such message is its own author.
        author = AuthorIdentity(external_id=f"unknown-sender:{parsed.message_id}"[:512], display_name="Unknown sender")
    return InboundMessage(
        channel=channel,
        account=account,
        external_id=parsed.message_id,
        author=author,
        text=text,
        language=record.language,
        visibility=Visibility.PRIVATE,
        in_reply_to=parent,
        thread_root=root if root != parsed.message_id else None,
        created_at=received_at or parsed.date or datetime.now(UTC),
        raw=record.model_dump(mode="json"),
    )
