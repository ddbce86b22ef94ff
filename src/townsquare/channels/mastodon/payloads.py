"""The parts of the Mastodon client API this connector reads and writes, as typed models.

Shapes follow the official entities (Status, Account, Notification, Error) in the Mastodon
documentation; fields the connector does not use are ignored, so servers that add fields (or
Mastodon-compatible servers that leave optional ones out) still parse. Everything received is
untrusted: sizes are bounded, and a payload that does not fit is skipped by the caller.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_CONTENT_CHARS = 1_000_000
"""HTML content longer than this is refused as malformed; shorter HTML is turned into text and
cut to the model's limit. No Mastodon server allows statuses anywhere near this long."""
MAX_ID_CHARS = 128


class Account(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    username: str = Field(default="", max_length=512)
    acct: str = Field(min_length=1, max_length=512, description="user for local, user@domain for remote accounts.")
    display_name: str = Field(default="", max_length=10_000)
    followers_count: int | None = Field(default=None, ge=0)
    url: str | None = Field(default=None, max_length=10_000)


class Mention(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(max_length=MAX_ID_CHARS)
    acct: str = Field(max_length=512)


class MediaAttachment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(max_length=MAX_ID_CHARS)
    type: str = Field(default="unknown", max_length=64)
    url: str | None = Field(default=None, max_length=10_000)
    description: str | None = Field(default=None, max_length=10_000)


class Status(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    uri: str = Field(default="", max_length=10_000)
    url: str | None = Field(default=None, max_length=10_000)
    account: Account
    content: str = Field(default="", max_length=MAX_CONTENT_CHARS)
    spoiler_text: str = Field(default="", max_length=100_000)
    visibility: str = Field(max_length=32, description="public, unlisted, private (followers only) or direct.")
    language: str | None = Field(default=None, max_length=64)
    in_reply_to_id: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    in_reply_to_account_id: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    created_at: datetime
    mentions: list[Mention] = Field(default_factory=list, max_length=1000)
    media_attachments: list[MediaAttachment] = Field(default_factory=list, max_length=100)


class NotificationHead(BaseModel):
    """What every notification has, read first so unknown types and broken bodies can be told
    apart and the cursor can still move past them."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    type: str = Field(max_length=64)


class Notification(NotificationHead):
    created_at: datetime
    account: Account
    status: Status | None = None


class ApiError(BaseModel):
    """Mastodon's error body: {"error": "...", "error_description": "..."}."""

    model_config = ConfigDict(extra="ignore")

    error: str = Field(default="", max_length=100_000)


class NotificationPolicy(BaseModel):
    model_config = ConfigDict(extra="ignore")

    for_private_mentions: str = Field(default="accept", max_length=32)


ReplyVisibility = Literal["public", "unlisted", "private", "direct"]


class NewStatus(BaseModel):
    """The body of POST /api/v1/statuses (the official `TextStatus` request schema)."""

    model_config = ConfigDict(extra="forbid")

    status: str = Field(min_length=1)
    visibility: ReplyVisibility
    in_reply_to_id: str | None = None
    language: str | None = None
