"""Notifications in, `InboundMessage`s out: mentions (public, unlisted, followers-only and
direct) become messages; every other notification type is acknowledged and ignored, and a
notification that does not parse is skipped with a log line, never passed on half-read."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from townsquare.channels.mastodon.html_text import html_to_text
from townsquare.channels.mastodon.payloads import Notification, NotificationHead, Status
from townsquare.model import MAX_TEXT_CHARS, AuthorIdentity, InboundMessage, Visibility

log = logging.getLogger(__name__)

CUT_MARK = " […]"
IDENTITY_CHARS = 512
URL_CHARS = 2048


@dataclass(frozen=True)
class Decoded:
    """One notification: its id (for the cursor) and the message it carries, if any."""

    notification_id: str | None
    message: InboundMessage | None


def newer(a: str | None, b: str | None) -> str | None:
    """The later of two ids. Mastodon ids are decimal strings of growing length, so they compare
    as numbers; other servers' ids (ULIDs, flake ids) sort as strings."""
    if a is None or b is None:
        return a if b is None else b
    if a.isdigit() and b.isdigit():
        return a if int(a) >= int(b) else b
    return a if a >= b else b


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - len(CUT_MARK)] + CUT_MARK


def _url(value: str | None) -> str | None:
    return value if value and len(value) <= URL_CHARS else None


def status_text(status: Status) -> str:
    text = html_to_text(status.content)
    spoiler = status.spoiler_text.strip()
    if spoiler:
        # The content warning is part of what the customer said (often the topic itself).
        text = f"CW: {spoiler}\n\n{text}" if text else f"CW: {spoiler}"
    return _cut(text, MAX_TEXT_CHARS)


def is_own(acct: str, handle: str, domain: str) -> bool:
    """Whether `acct` (as this instance shows it) is the company's account `handle` (`name`,
    `@name` or `name@domain` all work)."""
    me = handle.strip().lstrip("@").lower()
    if me.endswith(f"@{domain.lower()}"):
        me = me[: -len(domain) - 1]
    return bool(me) and acct.lower() == me


def to_message(status: Status, *, channel: str, account: str, raw: dict[str, Any]) -> InboundMessage:
    author = status.account
    return InboundMessage(
        channel=channel,
        account=account,
        external_id=status.id,
        author=AuthorIdentity(
            external_id=author.id,
            handle=_cut(author.acct, IDENTITY_CHARS),
            display_name=_cut(author.display_name or author.username, IDENTITY_CHARS),
            reach=author.followers_count,
            url=_url(author.url),
        ),
        text=status_text(status),
        language=status.language if status.language and len(status.language) <= 16 else None,
        visibility=Visibility.PRIVATE if status.visibility == "direct" else Visibility.PUBLIC,
        in_reply_to=status.in_reply_to_id,
        created_at=status.created_at,
        url=_url(status.url) or _url(status.uri),
        raw=raw,
    )


def decode(raw: object, *, channel: str, account: str, handle: str, domain: str) -> Decoded:
    """Turn one notification document into a message, or nothing (with the reason logged)."""
    if not isinstance(raw, dict):
        log.warning("mastodon/%s: skipped a notification that is not a JSON object", account)
        return Decoded(None, None)
    try:
        head = NotificationHead.model_validate(raw)
    except ValidationError as error:
        log.warning("mastodon/%s: skipped a notification without id or type (%d errors)", account, error.error_count())
        return Decoded(None, None)
    if head.type != "mention":
        log.debug("mastodon/%s: ignored a %r notification", account, head.type)
        return Decoded(head.id, None)
    try:
        notification = Notification.model_validate(raw)
    except ValidationError as error:
        fields = sorted({".".join(str(part) for part in e["loc"]) for e in error.errors()})[:5]
        log.warning("mastodon/%s: skipped malformed mention %s (invalid: %s)", account, head.id, ", ".join(fields))
        return Decoded(head.id, None)
    if notification.status is None:
        log.info("mastodon/%s: skipped mention %s whose status is gone", account, head.id)
        return Decoded(head.id, None)
    status = notification.status
    if is_own(status.account.acct, handle, domain):
        return Decoded(head.id, None)  # our own post: the outbox stored it when it was sent
    try:
        message = to_message(status, channel=channel, account=account, raw=raw)
    except ValidationError as error:
        log.warning("mastodon/%s: skipped mention %s (%d invalid fields)", account, head.id, error.error_count())
        return Decoded(head.id, None)
    return Decoded(head.id, message)
