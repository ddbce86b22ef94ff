"""One feed entry → one public `InboundMessage`: its id, author, text, link, time and language."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from townsquare.channels.feeds.payloads import Entry, FeedInfo, TextConstruct
from townsquare.channels.feeds.text import html_to_text
from townsquare.clock import utcnow
from townsquare.model import MAX_TEXT_CHARS, AuthorIdentity, InboundMessage, Visibility

MAX_ID = 512
MAX_NAME = 512
MAX_URL = 2048
CUT_MARK = "\n[… cut: the item is longer than Townsquare keeps]"
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S")
_LANGUAGE = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*$")
_FUTURE_SLACK = timedelta(days=1)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def _fit_id(external_id: str, feed_url: str) -> str:
    if len(external_id) <= MAX_ID:
        return external_id
    return f"{feed_url[: MAX_ID - 48]}#sha256:{_digest(external_id)}"


def external_id_of(entry: Entry, feed_url: str, body: str) -> str:
    """The guid/id when the feed gives one. Ids that are not URIs ('67c84d2e…', '17') are only
    unique within their feed, and Townsquare dedupes by (channel, external id), so they are
    prefixed with the feed's URL. Without an id, a stable hash of link and title (and of the
    text when both are missing) stands in."""
    guid = (entry.id or "").strip()
    if guid:
        return _fit_id(guid if _URI.match(guid) else f"{feed_url}#{guid}", feed_url)
    link, title = (entry.link or "").strip(), (entry.title or "").strip()
    parts = (link, title) if link or title else (body,)
    return _fit_id(f"{feed_url}#sha256:{_digest(*parts)}", feed_url)


def http_url(value: str | None) -> str | None:
    """Only web links: a `javascript:` or `data:` link from a hostile feed is dropped."""
    if not value:
        return None
    value = value.strip()
    if urlsplit(value).scheme.lower() not in ("http", "https") or len(value) > MAX_URL:
        return None
    return value


def _plain(construct: TextConstruct | None, fallback: str | None = None) -> str:
    if construct is None:
        return (fallback or "").strip()
    return (html_to_text(construct.value) if construct.is_html else construct.value).strip()


def _body(entry: Entry) -> str:
    # Full content (content:encoded, atom:content) beats the summary (description).
    if entry.content:
        html = [part for part in entry.content if part.is_html]
        return _plain(html[0] if html else entry.content[0])
    return _plain(entry.summary_detail)


def feed_title(feed: FeedInfo) -> str:
    return _plain(feed.title_detail, feed.title)


def author_of(entry: Entry, feed: FeedInfo, feed_url: str) -> AuthorIdentity:
    """The item's author; the feed itself (its title, external id = its URL) when none is named.
    Names are kept as written, markup included: the web app escapes them."""
    person = entry.author_detail
    name = ((person.name if person else None) or entry.author or "").strip()
    email = ((person.email if person else None) or "").strip().lower()
    href = http_url(person.href if person else None)
    if name or email or href:
        # A bare name is only an identity within its feed ('admin' of one blog is not another's).
        external_id = href or (f"mailto:{email}" if email else f"{feed_url}#author:{name}")
        return AuthorIdentity(
            external_id=_fit_id(external_id, feed_url),
            handle=(name or email)[:MAX_NAME],
            display_name=(name or email)[:MAX_NAME],
            url=href,
        )
    title = feed_title(feed) or urlsplit(feed_url).hostname or feed_url
    return AuthorIdentity(
        external_id=_fit_id(feed_url, feed_url),
        handle=title[:MAX_NAME],
        display_name=title[:MAX_NAME],
        url=http_url(feed.link),
    )


def language_code(*candidates: str | None) -> str | None:
    """The first usable language tag, as its primary subtag ('de-DE' → 'de')."""
    for candidate in candidates:
        match = _LANGUAGE.match((candidate or "").strip())
        if match:
            return match.group(1).lower()
    return None


def created_at_of(entry: Entry, now: datetime) -> datetime:
    for parsed in (entry.published_parsed, entry.updated_parsed):
        if parsed is None or len(parsed) < 6:
            continue
        try:
            year, month, day, hour, minute, second = parsed[:6]
            when = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except (TypeError, ValueError):
            continue
        # A clock far in the future would pin the item to the top of every list.
        return when if when <= now + _FUTURE_SLACK else now
    return now


def _cut(text: str) -> str:
    if len(text) <= MAX_TEXT_CHARS:
        return text
    return text[: MAX_TEXT_CHARS - len(CUT_MARK)] + CUT_MARK


def _raw(entry: Entry, feed_url: str, created_at: datetime) -> dict[str, Any]:
    """What is kept for audit: the item's identity and metadata, not its (already stored) text."""
    return {
        "feed": feed_url,
        "id": entry.id,
        "link": entry.link,
        "title": entry.title,
        "author": entry.author,
        "published": created_at.isoformat(),
        "tags": [tag.term for tag in entry.tags if tag.term],
    }


def to_message(entry: Entry, feed: FeedInfo, *, channel: str, account: str, feed_url: str) -> InboundMessage | None:
    """The entry as a public message; None for an entry with no words at all."""
    title = _plain(entry.title_detail, entry.title)
    body = _body(entry)
    if body.startswith(title):
        title = ""  # Minimal feeds repeat the title as the first words of the text.
    text = "\n\n".join(part for part in (title, body) if part)
    if not text:
        return None
    now = utcnow()
    created_at = created_at_of(entry, now)
    first_content = entry.content[0] if entry.content else None
    return InboundMessage(
        channel=channel,
        account=account,
        external_id=external_id_of(entry, feed_url, body),
        author=author_of(entry, feed, feed_url),
        text=_cut(text),
        language=language_code(
            first_content.language if first_content else None,
            entry.summary_detail.language if entry.summary_detail else None,
            entry.title_detail.language if entry.title_detail else None,
            feed.language,
        ),
        visibility=Visibility.PUBLIC,
        created_at=created_at,
        url=http_url(entry.link),
        raw=_raw(entry, feed_url, created_at),
    )
