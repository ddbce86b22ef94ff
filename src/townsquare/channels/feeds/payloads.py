"""What a feed document says, as typed models.

`feedparser` reads RSS 0.9x/2.0, RSS 1.0 (RDF) and Atom 0.3/1.0 into one shape, recovers what it
can from broken XML (and says so with `bozo`), sanitizes HTML content and resolves relative links.
Its result is a loose dict; every part we use is validated here into a model, entry by entry, so
one strange entry is skipped with a log line instead of losing the whole feed.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import feedparser
from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextConstruct(_Loose):
    """A title, summary or content element: its media type says whether the value is HTML."""

    type: str = "text/plain"
    value: str = ""
    language: str | None = None

    @property
    def is_html(self) -> bool:
        return self.type.lower() in HTML_TYPES


class Person(_Loose):
    name: str | None = None
    email: str | None = None
    href: str | None = None


class Tag(_Loose):
    term: str | None = None


class Entry(_Loose):
    """One item (RSS) or entry (Atom)."""

    id: str | None = None
    link: str | None = None
    title: str | None = None
    title_detail: TextConstruct | None = None
    summary_detail: TextConstruct | None = None
    content: list[TextConstruct] = Field(default_factory=list)
    author: str | None = None
    author_detail: Person | None = None
    published_parsed: tuple[int, ...] | None = Field(default=None, description="UTC, as time.gmtime() gives it.")
    updated_parsed: tuple[int, ...] | None = None
    tags: list[Tag] = Field(default_factory=list)


class FeedInfo(_Loose):
    """The channel (RSS) or feed (Atom) element."""

    title: str | None = None
    title_detail: TextConstruct | None = None
    link: str | None = None
    language: str | None = None


class ParsedFeed(BaseModel):
    version: str = Field(description="'rss20', 'rss10', 'atom10', ...; empty when the document is not a feed.")
    malformed: bool
    problem: str | None = Field(default=None, description="The parser's complaint about a malformed document.")
    feed: FeedInfo
    entries: list[Entry]
    skipped: int = Field(default=0, description="Entries that did not fit the model.")


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def parse_document(body: bytes, *, url: str, content_type: str | None) -> ParsedFeed:
    """Parse a fetched document. `url` is where it was fetched from (relative links resolve
    against it); `content_type` is the response's header, which may carry the charset."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    # A stream, never a str: feedparser would fetch a str that looks like a URL or open a path.
    result = feedparser.parse(
        io.BytesIO(body), response_headers=headers, sanitize_html=True, resolve_relative_uris=True
    )
    try:
        feed = FeedInfo.model_validate(_dict(result.get("feed")))
    except ValidationError:
        log.warning("feed metadata of %s did not fit the model; continuing without it", url)
        feed = FeedInfo()
    entries: list[Entry] = []
    skipped = 0
    for raw in result.get("entries") or []:
        try:
            entries.append(Entry.model_validate(_dict(raw)))
        except ValidationError as error:
            skipped += 1
            log.warning("skipped a feed entry with %d invalid fields", error.error_count())
    problem = result.get("bozo_exception")
    return ParsedFeed(
        version=str(result.get("version") or ""),
        malformed=bool(result.get("bozo")),
        problem=f"{type(problem).__name__}: {problem}"[:300] if problem is not None else None,
        feed=feed,
        entries=entries,
        skipped=skipped,
    )
