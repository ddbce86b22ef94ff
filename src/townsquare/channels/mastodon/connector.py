"""The Mastodon connector.

Receives: mention notifications (public, unlisted, followers-only and direct statuses that
mention the company, which includes replies to its posts) from the streaming API
(`/api/v1/streaming/user`, server-sent events), with `GET /api/v1/notifications` as the catch-up
after a restart, after every reconnect, and as the fallback when streaming is off or refused.
The cursor is the newest notification id seen. Sends: replies with `POST /api/v1/statuses`,
threaded with `in_reply_to_id`, the customer mentioned first, `visibility=public` (or
`unlisted`) for public answers and `direct` for private ones, with the reply id as
`Idempotency-Key` so a retried send never posts twice.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Generator, Iterator
from datetime import datetime
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from townsquare.channels.base import (
    ChannelLimits,
    Connector,
    ConnectorSettings,
    DeliveryError,
    PollResult,
    RateLimited,
    ReconnectRequired,
)
from townsquare.channels.mastodon.errors import raise_for_status, transport_error
from townsquare.channels.mastodon.inbound import decode, newer
from townsquare.channels.mastodon.outbound import counted_length, with_mention
from townsquare.channels.mastodon.payloads import Account, NewStatus, NotificationPolicy
from townsquare.channels.mastodon.sse import ServerEvent
from townsquare.channels.mastodon.streaming import Ended, Opened, StreamReader
from townsquare.model import InboundMessage, OutboundReply, SentReceipt, Visibility

log = logging.getLogger(__name__)

PAGE_SIZE = 40
"""Mastodon's largest page of notifications (40 by default; some servers allow 80)."""
POLL_PAGES = 25
"""Pages one `poll` reads (1,000 mentions); a longer backlog is read on by the stream's catch-up."""
STREAM_READ_TIMEOUT = 60.0
"""Mastodon sends a heartbeat every 15 s; a minute of silence means the connection is dead."""
STREAM_FALLBACK_SECONDS = 600.0
"""When the server refuses streaming, poll this long before trying the stream again."""
SEEN_IDS = 2_000
QUIET_STREAM_EVENTS = frozenset(
    {"update", "delete", "status.update", "conversation", "filters_changed", "announcement",
     "announcement.reaction", "announcement.delete", "notifications_merged", "encrypted_message"}
)  # fmt: skip
"""Events of the user stream that carry nothing for support (timeline updates, announcements);
mentions, direct ones included, all arrive as `notification` events."""


class MastodonSettings(ConnectorSettings):
    base_url: str = Field(description="The instance's address, e.g. https://mastodon.social")
    access_token: SecretStr = Field(
        description="Access token of the company's account (scopes read and write).",
        json_schema_extra={"secret": True},
    )
    handle: str = Field(min_length=1, description="The company's account, e.g. acme (or acme@mastodon.social).")
    reply_visibility: Literal["public", "unlisted"] = Field(
        default="public", description="Visibility of public replies: public, or unlisted (kept off public timelines)."
    )
    stream: bool = Field(default=True, description="Receive through the streaming API; false polls the REST API.")
    streaming_url: str | None = Field(
        default=None, description="Address of the streaming API when the instance serves it elsewhere."
    )
    max_characters: int = Field(default=500, ge=1, description="The instance's status length limit.")
    poll_seconds: float = Field(default=30.0, ge=1.0, description="Pause between REST polls when not streaming.")
    catch_up_seconds: float = Field(
        default=300.0, ge=10.0, description="While streaming, re-read the newest notifications this often."
    )

    @field_validator("base_url", "streaming_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc:
            raise ValueError("must be an http(s) address such as https://mastodon.social")
        return value


class SentStatus(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=128)
    url: str | None = Field(default=None, max_length=2048)
    uri: str | None = Field(default=None, max_length=2048)
    created_at: datetime | None = None


class MastodonConnector(Connector):
    name = "mastodon"
    title = "Mastodon"
    description = "Mentions and private mentions of a Mastodon account; public and direct replies."
    settings_model = MastodonSettings
    limits = ChannelLimits(max_text_length=500, public_replies=True, private_messages=True, media=False)
    receives: ClassVar[tuple[str, ...]] = ("stream", "poll")

    settings: MastodonSettings

    def __init__(
        self, account: str, settings: MastodonSettings, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__(account, settings, transport=transport)
        self._resume_at = 0.0  # monotonic time before which the network asked us to wait
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._policy_checked = False

    # -- HTTP ---------------------------------------------------------------------------------

    @property
    def domain(self) -> str:
        return urlsplit(self.settings.base_url).netloc

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.access_token.get_secret_value()}"}

    def _client(self, base_url: str | None = None) -> httpx.Client:
        return self.http_client(base_url or self.settings.base_url, headers=self._auth())

    def _get(self, client: httpx.Client, path: str, what: str, params: httpx.QueryParams | None = None) -> Any:
        try:
            response = client.get(path, params=params)
        except httpx.HTTPError as error:
            raise transport_error(error, what) from error
        raise_for_status(response, what)
        try:
            return json.loads(response.content)
        except ValueError as error:
            raise DeliveryError(f"Mastodon sent an unreadable answer to {what}") from error

    # -- receiving ----------------------------------------------------------------------------

    def _decode(self, document: object, *, skip_seen: bool = False) -> tuple[str | None, InboundMessage | None]:
        decoded = decode(
            document, channel=self.name, account=self.account, handle=self.settings.handle, domain=self.domain
        )
        notification_id = decoded.notification_id
        if notification_id is None:
            return None, decoded.message
        seen = notification_id in self._seen
        self._seen[notification_id] = None
        self._seen.move_to_end(notification_id)
        while len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)
        # Only the safety-net re-read skips what this process saw: the cursor-based reads must
        # hand a message on again when storing it failed the first time.
        return notification_id, None if seen and skip_seen else decoded.message

    def _pages(self, cursor: str | None, max_pages: int, *, newest_only: bool = False) -> Iterator[PollResult]:
        """Mention notifications after `cursor`, oldest page first (`min_id` pages forward
        from the cursor); without a cursor, only the newest page (the account's recent history)."""
        with self._client() as client:
            for _ in range(max_pages):
                params: dict[str, str | list[str]] = {"types[]": ["mention"], "limit": str(PAGE_SIZE)}
                if cursor is not None and not newest_only:
                    params["min_id"] = cursor
                documents = self._get(
                    client, "/api/v1/notifications", "reading notifications", httpx.QueryParams(params)
                )
                if not isinstance(documents, list):
                    raise DeliveryError("Mastodon answered the notifications request with something other than a list")
                newest, messages = cursor, list[InboundMessage]()
                for document in reversed(documents):  # newest first on the wire; store oldest first
                    notification_id, message = self._decode(document, skip_seen=newest_only)
                    newest = newer(newest, notification_id)
                    if message is not None:
                        messages.append(message)
                if messages or newest != cursor:
                    yield PollResult(messages, newest)
                if not documents or newest == cursor or cursor is None or newest_only:
                    return
                cursor = newest

    def poll(self, cursor: str | None) -> PollResult:
        messages: list[InboundMessage] = []
        if self._waiting():
            return PollResult(messages, cursor)
        try:
            for page in self._pages(cursor, POLL_PAGES):
                messages.extend(page.messages)
                cursor = page.cursor
        except RateLimited as limited:
            self._rate_limited(limited)
        return PollResult(messages, cursor)

    def stream(self, cursor: str | None, stop: threading.Event) -> Iterator[PollResult]:
        if self._waiting():
            stop.wait(max(0.0, self._resume_at - time.monotonic()))
            return
        if self.settings.stream:
            yield from self._stream_session(cursor, stop)
        else:
            yield from self._poll_loop(cursor, stop, deadline=None)

    def _poll_loop(self, cursor: str | None, stop: threading.Event, deadline: float | None) -> Iterator[PollResult]:
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            try:
                for page in self._pages(cursor, POLL_PAGES):
                    cursor = page.cursor
                    yield page
            except RateLimited as limited:
                self._rate_limited(limited)
            stop.wait(max(self.settings.poll_seconds, self._resume_at - time.monotonic()))

    def _stream_session(self, cursor: str | None, stop: threading.Event) -> Iterator[PollResult]:
        reader = StreamReader(
            lambda: self._client(self.settings.streaming_url),
            "/api/v1/streaming/user",
            timeout=httpx.Timeout(10.0, read=STREAM_READ_TIMEOUT),
            name=f"mastodon-stream-{self.account}",
        )
        reader.start()
        try:
            first = _next_item(reader, stop)
            while first is None:
                if stop.is_set():
                    return
                first = _next_item(reader, stop)
            if isinstance(first, Ended):
                yield from self._stream_refused(first, cursor, stop)
                return
            self._check_notification_policy()
            # Read what arrived since `cursor` only now that the stream is open, so nothing
            # posted between the last poll and the connection is missed.
            caught_up, cursor = yield from self._catch_up(cursor)
            last_catch_up = time.monotonic()
            while not stop.is_set():
                item = _next_item(reader, stop)
                if isinstance(item, Ended):
                    detail = type(item.error).__name__ if item.error else "closed by the server"
                    log.info("mastodon/%s: stream ended (%s); catching up and reconnecting", self.account, detail)
                    stop.wait(1.0)
                    return
                if isinstance(item, ServerEvent):
                    found, newest = self._on_event(item)
                    if found or (caught_up and newest is not None):
                        # Until a catch-up has succeeded the cursor must not pass the gap.
                        cursor = newer(cursor, newest) if caught_up else cursor
                        yield PollResult(found, cursor)
                due = self.settings.catch_up_seconds if caught_up else 30.0
                if time.monotonic() - last_catch_up > due:
                    last_catch_up = time.monotonic()
                    if caught_up:
                        yield from self._recheck_newest()
                    else:
                        caught_up, cursor = yield from self._catch_up(cursor)
        finally:
            reader.close()

    def _catch_up(self, cursor: str | None) -> Generator[PollResult, None, tuple[bool, str | None]]:
        """Generator returning (caught up?, cursor) after yielding every page since `cursor`."""
        try:
            for page in self._pages(cursor, 1_000_000):
                cursor = page.cursor
                yield page
        except RateLimited as limited:
            self._rate_limited(limited)
            return False, cursor
        except ReconnectRequired:
            raise
        except DeliveryError as error:
            log.warning("mastodon/%s: catch-up failed, will retry: %s", self.account, error)
            return False, cursor
        return True, cursor

    def _recheck_newest(self) -> Iterator[PollResult]:
        """A safety net for events a stream may drop: re-read the newest page and pass on what
        this process has not seen (the cursor stays; ingest is idempotent anyway)."""
        try:
            for page in self._pages(None, 1, newest_only=True):
                if page.messages:
                    yield PollResult(page.messages, None)
        except ReconnectRequired:
            raise
        except DeliveryError as error:
            if isinstance(error, RateLimited):
                self._rate_limited(error)
            log.info("mastodon/%s: periodic catch-up skipped: %s", self.account, error)

    def _stream_refused(self, ended: Ended, cursor: str | None, stop: threading.Event) -> Iterator[PollResult]:
        if ended.response is None:
            error = ended.error or ConnectionError("stream closed before it opened")
            raise DeliveryError(f"Mastodon streaming API unreachable: {type(error).__name__}") from error
        status = ended.response.status_code
        if status in (401, 403, 429) or status >= 500:
            raise_for_status(ended.response, "opening the stream")
        log.warning(
            "mastodon/%s: the server refused streaming (%d); polling every %.0f s instead",
            self.account,
            status,
            self.settings.poll_seconds,
        )
        yield from self._poll_loop(cursor, stop, deadline=time.monotonic() + STREAM_FALLBACK_SECONDS)

    def _on_event(self, event: ServerEvent) -> tuple[list[InboundMessage], str | None]:
        if event.name != "notification":
            level = logging.DEBUG if event.name in QUIET_STREAM_EVENTS else logging.INFO
            log.log(level, "mastodon/%s: ignored stream event %r", self.account, event.name[:64])
            return [], None
        try:
            document = json.loads(event.data)
        except ValueError:
            log.warning("mastodon/%s: skipped a notification event that is not JSON", self.account)
            return [], None
        notification_id, message = self._decode(document)
        return ([message] if message else []), notification_id

    def _check_notification_policy(self) -> None:
        """Mastodon 4.3+ can hold private mentions from strangers back as notification requests,
        which neither the stream nor the notifications list shows: warn the admin once."""
        if self._policy_checked:
            return
        self._policy_checked = True
        try:
            with self._client() as client:
                document = self._get(client, "/api/v2/notifications/policy", "reading the notification policy")
            policy = NotificationPolicy.model_validate(document)
        except (DeliveryError, ValidationError):
            return  # older servers have no policy; nothing is filtered there
        if policy.for_private_mentions != "accept":
            log.warning(
                "mastodon/%s: the account's notification policy %ss private mentions from people it does not "
                "follow; set it to accept, or customers' private messages stay in notification requests",
                self.account,
                policy.for_private_mentions,
            )

    def _waiting(self) -> bool:
        return time.monotonic() < self._resume_at

    def _rate_limited(self, limited: RateLimited) -> None:
        seconds = limited.retry_after or 60.0
        log.warning("mastodon/%s: rate limited; pausing for %.0f s", self.account, seconds)
        self._resume_at = time.monotonic() + seconds

    # -- sending ------------------------------------------------------------------------------

    def send(self, reply: OutboundReply) -> SentReceipt:
        acct = reply.recipient.handle or self._acct_of(reply.recipient.external_id)
        text = with_mention(reply.text, acct)
        length = counted_length(text)
        if length > self.settings.max_characters:
            raise DeliveryError(
                f"the reply is {length} characters with the mention; the instance allows "
                f"{self.settings.max_characters}",
                retryable=False,
            )
        private = reply.visibility == Visibility.PRIVATE
        body = NewStatus(
            status=text,
            visibility="direct" if private else self.settings.reply_visibility,
            # Private answers are threaded too: a direct status is visible only to the people it
            # mentions, wherever it sits, and the customer sees which message it answers.
            in_reply_to_id=reply.in_reply_to,
        )
        return self._post_status(body, reply.reply_id, "the reply")

    def publish(self, text: str, idempotency_key: str) -> SentReceipt:
        """A status of the company's own (incident updates), public, not a reply."""
        if counted_length(text) > self.settings.max_characters:
            text = text[: self.settings.max_characters - 1].rstrip() + "…"
        return self._post_status(NewStatus(status=text, visibility="public"), idempotency_key, "the post")

    def _post_status(self, body: NewStatus, idempotency_key: str, what: str) -> SentReceipt:
        try:
            with self._client() as client:
                response = client.post(
                    "/api/v1/statuses",
                    json=body.model_dump(exclude_none=True),
                    headers={"Idempotency-Key": idempotency_key},
                )
        except httpx.HTTPError as error:
            raise transport_error(error, f"sending {what}") from error
        raise_for_status(response, what)
        try:
            status = SentStatus.model_validate_json(response.content)
        except ValidationError as error:
            # Posted, but unreadable: a retry with the same Idempotency-Key returns the same status.
            raise DeliveryError(f"Mastodon accepted {what} but its answer is unreadable") from error
        if status.created_at is None:
            return SentReceipt(external_id=status.id, url=status.url or status.uri)
        return SentReceipt(external_id=status.id, url=status.url or status.uri, created_at=status.created_at)

    def _acct_of(self, account_id: str) -> str:
        """The customer's @handle when only their account id is known."""
        try:
            with self._client() as client:
                document = self._get(client, f"/api/v1/accounts/{account_id}", "looking up the recipient")
            return Account.model_validate(document).acct
        except ValidationError as error:
            raise DeliveryError("could not read the recipient's account", retryable=False) from error


def _next_item(reader: StreamReader, stop: threading.Event) -> Opened | Ended | ServerEvent | None:
    """The reader's next item, or None after half a second without one (or once `stop` is set),
    so the caller looks at the stop signal and its timers often."""
    if stop.is_set():
        return None
    try:
        return reader.items.get(timeout=0.5)
    except queue.Empty:
        return None
