"""The connector contract: what every network's package implements.

A connector knows one network and nothing else: it parses what the network sends into
`InboundMessage`s, sends replies and reports the network's id for them, and declares its settings
and limits on the class, so validation, docs, the CLI and the admin form come from one place.
It never touches the database; the runtime hands it its account settings and stores its cursor.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field

from townsquare.model import InboundMessage, OutboundReply, SentReceipt


class ChannelLimits(BaseModel):
    model_config = ConfigDict(frozen=True)

    max_text_length: int = Field(description="Longest reply text the network accepts, in characters.")
    public_replies: bool = True
    private_messages: bool = True
    private_window_hours: float | None = Field(
        default=None, description="How long after the customer's last message a private reply is allowed."
    )
    media: bool = False
    sends_per_minute: int | None = Field(
        default=None, description="Pace of replies the network tolerates per account; the outbox keeps to it."
    )


class ConnectorSettings(BaseModel):
    """Base for a connector's settings. Fields marked `json_schema_extra={"secret": True}` are
    never shown or logged."""

    model_config = ConfigDict(extra="forbid")


class ConnectorError(Exception):
    """Something went wrong talking to the network."""


class DeliveryError(ConnectorError):
    def __init__(self, message: str, *, retryable: bool = True, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class RateLimited(DeliveryError):
    def __init__(self, retry_after: float | None) -> None:
        super().__init__(f"rate limited by the network (retry after {retry_after}s)", retry_after=retry_after)


class ReconnectRequired(DeliveryError):
    """Credentials expired or were revoked: an admin must reconnect this account."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class InvalidSignature(ConnectorError):
    """A webhook whose signature does not verify: answered 401, never processed."""


class BadPayload(ConnectorError):
    """A webhook body the connector cannot parse: answered 400, never processed."""


@dataclass(frozen=True)
class PollResult:
    messages: list[InboundMessage]
    cursor: str | None


class Connector(ABC):
    name: ClassVar[str]
    """Short stable name, used in URLs, the store and entry points (e.g. 'mastodon')."""
    title: ClassVar[str]
    description: ClassVar[str] = ""
    settings_model: ClassVar[type[ConnectorSettings]] = ConnectorSettings
    limits: ClassVar[ChannelLimits]
    receives: ClassVar[tuple[str, ...]] = ()
    """How messages arrive: any of 'webhook', 'stream', 'poll'."""
    poll_interval_seconds: ClassVar[float] = 30.0
    """Pause between two `poll` calls that found nothing new (see `poll_interval`)."""
    groups_by_author: ClassVar[bool] = True
    """Whether an author's next message joins their running conversation (threading rule 2).
    Listening channels such as feeds, where each item stands alone, say False."""

    def __init__(
        self, account: str, settings: ConnectorSettings, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.account = account
        self.settings = settings
        self.transport = transport

    def http_client(self, base_url: str, **kwargs: object) -> httpx.Client:
        """An HTTP client on the injected transport (tests) or the real network."""
        return httpx.Client(base_url=base_url, transport=self.transport, timeout=10.0, **kwargs)  # type: ignore[arg-type]

    @abstractmethod
    def send(self, reply: OutboundReply) -> SentReceipt:
        """Deliver a reply: public under `reply.in_reply_to`, or private to `reply.recipient`."""

    def publish(self, text: str, idempotency_key: str) -> SentReceipt:
        """Post on the company's own account (status updates). Networks without own posts keep
        this default, and the update is not posted there."""
        raise DeliveryError(f"{self.name} has no posts of its own", retryable=False)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundMessage]:
        """Verify and parse one webhook delivery. Unknown event types give an empty list."""
        raise BadPayload(f"{self.name} does not receive webhooks")

    def poll_interval(self) -> float:
        """Seconds between polls for this account; settings may override the class default."""
        return self.poll_interval_seconds

    def poll(self, cursor: str | None) -> PollResult:
        """Fetch what arrived after `cursor` (polling connectors, and the catch-up of streaming
        ones after a restart). The runtime stores the returned cursor only after the messages are
        stored, so a crash re-fetches rather than loses; ingest is idempotent."""
        return PollResult([], cursor)

    def stream(self, cursor: str | None, stop: threading.Event) -> Iterator[PollResult]:
        """Streaming connectors: yield batches as the network pushes them, each with the cursor
        to resume after it; return when `stop` is set or the stream ends (the runtime then calls
        `poll` to catch up and opens the stream again, with backoff)."""
        return iter(())

    def close(self) -> None:  # noqa: B027 - optional hook, most connectors hold nothing open
        """Release network resources."""


def secret_fields(model: type[BaseModel]) -> set[str]:
    return {
        name
        for name, field in model.model_fields.items()
        if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("secret")
    }
