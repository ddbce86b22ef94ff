"""RSS and Atom feeds, for listening: blogs, forums, review sites, news.

Receives: by polling. Each account is one feed URL, fetched with a conditional GET (ETag and
Last-Modified from the cursor; a 304 costs the publisher nothing); RSS 0.9x/2.0, RSS 1.0 (RDF)
and Atom are parsed by `feedparser`; new items become public messages. Sends: nothing. A feed
has no reply channel, so agents answer feed items by other means (the blog's comment form, the
review site's reply tool, the forum itself).
"""

from __future__ import annotations

import logging
import time
from typing import ClassVar

import httpx
from pydantic import Field, SecretStr, field_validator, model_validator

from townsquare.channels.base import (
    ChannelLimits,
    Connector,
    ConnectorSettings,
    DeliveryError,
    PollResult,
    RateLimited,
)
from townsquare.channels.feeds.cursor import FeedCursor
from townsquare.channels.feeds.fetch import MAX_REDIRECTS, Fetched, fetch_feed, safe_url
from townsquare.channels.feeds.normalize import to_message
from townsquare.channels.feeds.payloads import ParsedFeed, parse_document
from townsquare.model import InboundMessage, OutboundReply, SentReceipt

log = logging.getLogger(__name__)


class FeedSettings(ConnectorSettings):
    url: str = Field(description="The feed's address (RSS or Atom), http or https.", max_length=2000)
    poll_interval: float = Field(
        default=300.0, ge=1.0, le=86_400.0, description="Seconds between two fetches when nothing new came."
    )
    keywords: list[str] = Field(
        default_factory=list,
        description="Keep only items whose title or text contains one of these words (comma-separated; "
        "case-insensitive). Empty keeps every item.",
    )
    username: str | None = Field(default=None, description="User name for HTTP basic authentication.")
    password: SecretStr | None = Field(
        default=None, description="Password for HTTP basic authentication.", json_schema_extra={"secret": True}
    )
    max_bytes: int = Field(
        default=5_000_000, ge=10_000, le=100_000_000, description="Read at most this many bytes of the feed."
    )

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: str) -> str:
        value = value.strip()
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as error:
            raise ValueError(f"not a URL: {error}") from error
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("the feed URL must start with http:// or https:// and name a host")
        return value

    @field_validator("keywords", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        # `--set keywords=acme,globex` arrives as one string.
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list):
            return [word.strip() for word in value if isinstance(word, str) and word.strip()]
        return value

    @model_validator(mode="after")
    def _auth_pair(self) -> FeedSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("basic authentication needs both username and password")
        return self


class FeedConnector(Connector):
    name = "feeds"
    title = "RSS/Atom feeds"
    description = "Listen to RSS and Atom feeds (blogs, forums, review sites); read-only."
    settings_model = FeedSettings
    # A feed cannot be answered: no public replies, no private messages, not a character.
    limits = ChannelLimits(max_text_length=0, public_replies=False, private_messages=False, media=False)
    receives: ClassVar[tuple[str, ...]] = ("poll",)
    poll_interval_seconds = 300.0
    groups_by_author = False  # every item is its own conversation

    settings: FeedSettings

    def __init__(
        self, account: str, settings: ConnectorSettings, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__(account, settings, transport=transport)
        self._not_before = 0.0

    def poll_interval(self) -> float:
        return float(self.settings.poll_interval)

    def _auth(self) -> httpx.Auth | None:
        if self.settings.username is None or self.settings.password is None:
            return None
        return httpx.BasicAuth(self.settings.username, self.settings.password.get_secret_value())

    def poll(self, cursor: str | None) -> PollResult:
        if time.monotonic() < self._not_before:
            # The listener retries failures after its own backoff; the publisher's Retry-After wins.
            return PollResult([], cursor)
        state = FeedCursor.load(cursor, origin=self.settings.url)
        url = state.url or self.settings.url
        try:
            with self.http_client(url, max_redirects=MAX_REDIRECTS) as client:
                fetched = fetch_feed(
                    client,
                    url,
                    etag=state.etag,
                    last_modified=state.last_modified,
                    auth=self._auth(),
                    max_bytes=self.settings.max_bytes,
                )
        except RateLimited as error:
            self._not_before = time.monotonic() + (error.retry_after or self.settings.poll_interval)
            raise
        if fetched.moved_to and fetched.moved_to != url:
            log.warning("feed %s/%s moved permanently to %s", self.name, self.account, safe_url(fetched.moved_to))
        moved_to = fetched.moved_to or state.url
        if fetched.not_modified:
            log.debug("feed %s/%s not modified", self.name, self.account)
            after = state.model_copy(
                update={"url": moved_to, "etag": fetched.etag, "last_modified": fetched.last_modified}
            )
            return PollResult([], after.dump())
        parsed = parse_document(fetched.body, url=fetched.url, content_type=fetched.content_type)
        if not parsed.version and not parsed.entries:
            log.warning("%s/%s: %s is not an RSS or Atom feed; nothing read", self.name, self.account, safe_url(url))
            return PollResult([], cursor)
        if parsed.malformed:
            log.warning(
                "feed %s/%s is malformed (%s); keeping the %d items that could be read",
                self.name,
                self.account,
                parsed.problem,
                len(parsed.entries),
            )
        return self._new_items(parsed, fetched, state, moved_to)

    def _new_items(self, parsed: ParsedFeed, fetched: Fetched, state: FeedCursor, moved_to: str | None) -> PollResult:
        entries = parsed.entries
        if fetched.truncated and entries:
            entries = entries[:-1]  # The last entry read may be cut in the middle.
        window: dict[str, None] = {}  # ordered, newest first as the feed lists them
        new: list[InboundMessage] = []
        for entry in entries:
            message = to_message(
                entry, parsed.feed, channel=self.name, account=self.account, feed_url=self.settings.url
            )
            if message is None:
                log.info("feed %s/%s: skipped an item without title or text", self.name, self.account)
                continue
            if message.external_id in window:
                continue  # The same item twice in one document.
            window[message.external_id] = None
            if not state.has_seen(message.external_id) and self._wanted(message):
                new.append(message)
        new.sort(key=lambda message: message.created_at)
        advanced = state.advanced(list(window), etag=fetched.etag, last_modified=fetched.last_modified, url=moved_to)
        log.info("feed %s/%s: %d items, %d new", self.name, self.account, len(window), len(new))
        return PollResult(new, advanced.dump())

    def _wanted(self, message: InboundMessage) -> bool:
        if not self.settings.keywords:
            return True
        text = message.text.casefold()
        return any(keyword.casefold() in text for keyword in self.settings.keywords)

    def send(self, reply: OutboundReply) -> SentReceipt:
        raise DeliveryError(
            "RSS/Atom feeds are read-only: a feed item cannot be answered in the feed. Answer it where it "
            "was published (the blog's comments, the review site's reply tool, the forum).",
            retryable=False,
        )
