"""The web chat connector: delivers an agent's private reply to the visitor's live stream.

Messages do not arrive here: the visitor's browser posts them to `WebchatService`, which hands
them to the bus, so `receives` is empty. Sending cannot fail on a network: the reply goes to the
visitor hub (live.py), and a visitor who is not connected reads it from the transcript when they
come back.
"""

from __future__ import annotations

import logging
from typing import ClassVar
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from townsquare.channels.base import ChannelLimits, Connector, ConnectorSettings, DeliveryError
from townsquare.channels.webchat.inbound import CHANNEL
from townsquare.channels.webchat.live import VisitorKey, current_hub
from townsquare.channels.webchat.payloads import MAX_TEXT_CHARS, TranscriptMessage
from townsquare.channels.webchat.tokens import split_external_id
from townsquare.clock import utcnow
from townsquare.model import OutboundReply, SentReceipt, Visibility

log = logging.getLogger(__name__)

ANY_ORIGIN = "*"


def normalize_origin(value: str) -> str:
    """`https://www.example.com` form: scheme, host and port only, lower case, no slash."""
    value = value.strip()
    if value == ANY_ORIGIN:
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"{value!r} is not an origin like https://www.example.com")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{value!r} is not an origin like https://www.example.com")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


class WebchatSettings(ConnectorSettings):
    allowed_origins: list[str] = Field(
        default_factory=list,
        description=(
            "Sites that may embed the widget, comma-separated origins like https://www.example.com "
            "('*' allows any site). Townsquare's own public_url is always allowed."
        ),
    )
    title: str = Field(default="Chat with us", max_length=80, description="The chat panel's heading.")
    greeting: str = Field(
        default="Hi! Ask us anything. We usually answer within a few minutes.",
        max_length=500,
        description="First line the visitor sees in the panel.",
    )
    require_email: bool = Field(default=False, description="Ask for an e-mail address before the visitor can write.")
    team_name: str = Field(default="Support", max_length=80, description="Author shown on the agents' replies.")

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        # `townsquare channels add webchat --set allowed_origins=https://a.example,https://b.example`
        if isinstance(value, str):
            return [part for part in (piece.strip() for piece in value.split(",")) if part]
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return [normalize_origin(origin) for origin in value]


class WebchatConnector(Connector):
    name = CHANNEL
    title = "Web chat"
    description = "A chat widget on the company's own website; visitors talk live with the agents."
    settings_model = WebchatSettings
    limits = ChannelLimits(max_text_length=MAX_TEXT_CHARS, public_replies=False, private_messages=True, media=False)
    receives: ClassVar[tuple[str, ...]] = ()

    settings: WebchatSettings

    def send(self, reply: OutboundReply) -> SentReceipt:
        if reply.visibility != Visibility.PRIVATE:
            raise DeliveryError("web chat has no public replies; answer privately", retryable=False)
        if len(reply.text) > self.limits.max_text_length:
            raise DeliveryError(
                f"web chat replies are limited to {self.limits.max_text_length} characters", retryable=False
            )
        account, visitor_id = split_external_id(reply.recipient.external_id)
        if account != self.account or not visitor_id:
            raise DeliveryError("the recipient is not a visitor of this chat account", retryable=False)
        # Made from the reply's id: if the outbox sends again (it crashed after sending, before
        # recording), the widget sees the same id twice and shows the reply once.
        external_id = f"wcr_{reply.reply_id}"
        message = TranscriptMessage(
            id=external_id,
            direction="outbound",
            text=reply.text,
            author=self.settings.team_name,
            created_at=utcnow(),
        )
        handed = current_hub().publish(VisitorKey(account, visitor_id), message)
        if not handed:
            log.debug("web chat visitor not connected; the reply waits in the transcript")
        return SentReceipt(external_id=external_id, created_at=message.created_at)
