"""The demo network's connector: registered through the same entry point group as every other.

Receives: signed webhooks (`X-Demo-Signature: sha256=<HMAC of the body>`), one event type,
`post.created`, for public mentions, replies and direct messages. Sends: public replies threaded
under the customer's post, and direct messages, through the network's REST API with a bearer key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import ClassVar

import httpx
from pydantic import Field, SecretStr, ValidationError

from townsquare.channels.base import (
    BadPayload,
    ChannelLimits,
    Connector,
    ConnectorSettings,
    DeliveryError,
    InvalidSignature,
    RateLimited,
    ReconnectRequired,
)
from townsquare.channels.demo.payloads import SIGNATURE_HEADER, EventEnvelope, NewPost, PostCreated
from townsquare.model import AuthorIdentity, InboundMessage, OutboundReply, SentReceipt, Visibility
from townsquare.security.signatures import verify


class DemoSettings(ConnectorSettings):
    base_url: str = Field(description="The network's address, e.g. http://127.0.0.1:8000/demo-network")
    handle: str = Field(default="acme", description="The company's handle on the network.")
    api_key: SecretStr = Field(description="Bearer key for publishing.", json_schema_extra={"secret": True})
    webhook_secret: SecretStr = Field(
        description="Shared secret of webhook signatures.", json_schema_extra={"secret": True}
    )


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class DemoConnector(Connector):
    name = "demo"
    title = "Demo network"
    description = "A simulated social network for trying Townsquare out; runs inside `townsquare demo`."
    settings_model = DemoSettings
    limits = ChannelLimits(max_text_length=500, private_messages=True, media=False, sends_per_minute=600)
    receives: ClassVar[tuple[str, ...]] = ("webhook",)

    settings: DemoSettings

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundMessage]:
        if not verify(self.settings.webhook_secret.get_secret_value(), body, headers.get(SIGNATURE_HEADER)):
            raise InvalidSignature("X-Demo-Signature does not match the body")
        try:
            document = json.loads(body)
            envelope = EventEnvelope.model_validate(document)
        except (ValueError, ValidationError) as error:
            raise BadPayload("not a demo network event") from error
        if envelope.event != "post.created":
            return []  # Unknown events are acknowledged and ignored, never an error.
        try:
            event = PostCreated.model_validate(document)
        except ValidationError as error:
            raise BadPayload(f"post.created event has {error.error_count()} invalid fields") from error
        post = event.post
        if post.author.handle == self.settings.handle:
            return []  # Our own replies come back as events too; the outbox already stored them.
        return [
            InboundMessage(
                channel=self.name,
                account=self.account,
                external_id=post.id,
                author=AuthorIdentity(
                    external_id=post.author.id,
                    handle=post.author.handle,
                    display_name=post.author.name,
                    reach=post.author.followers,
                ),
                text=post.text,
                language=post.lang,
                visibility=Visibility.PRIVATE if post.visibility == "direct" else Visibility.PUBLIC,
                in_reply_to=post.in_reply_to,
                thread_root=post.thread_root,
                created_at=post.created_at,
                url=post.url,
                raw=document,
            )
        ]

    def send(self, reply: OutboundReply) -> SentReceipt:
        private = reply.visibility == Visibility.PRIVATE
        body = NewPost(
            text=reply.text,
            visibility="direct" if private else "public",
            in_reply_to=None if private else reply.in_reply_to,
            recipient=reply.recipient.handle if private else None,
        )
        return self._post(body, reply.reply_id)

    def publish(self, text: str, idempotency_key: str) -> SentReceipt:
        return self._post(NewPost(text=text[: self.limits.max_text_length]), idempotency_key)

    def _post(self, body: NewPost, idempotency_key: str) -> SentReceipt:
        headers = {
            "Authorization": f"Bearer {self.settings.api_key.get_secret_value()}",
            "Idempotency-Key": idempotency_key,
        }
        try:
            with self.http_client(self.settings.base_url) as client:
                response = client.post("/api/posts", json=body.model_dump(), headers=headers)
        except httpx.TimeoutException as error:
            raise DeliveryError(f"demo network timed out: {error}") from error
        except httpx.HTTPError as error:
            raise DeliveryError(f"demo network unreachable: {error}") from error
        if response.status_code == 429:
            raise RateLimited(retry_after_seconds(response))
        if response.status_code == 401:
            raise ReconnectRequired("the demo network refused the API key; reconnect the account")
        if response.status_code >= 500:
            raise DeliveryError(f"demo network error {response.status_code}", retry_after=retry_after_seconds(response))
        if response.status_code >= 400:
            raise DeliveryError(f"demo network refused the reply: {response.text[:200]}", retryable=False)
        data = response.json()
        return SentReceipt(external_id=str(data["id"]), url=data.get("url"))
