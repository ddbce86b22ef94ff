"""The normalized model: the types every part of Townsquare speaks.

Connectors turn what a network sends into `InboundMessage`; the pipeline turns those into stored
messages, contacts and conversations; agents answer with a `Reply`. Nothing outside a connector
knows a network's own payload shapes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from townsquare.clock import as_utc, utcnow

MAX_TEXT_CHARS = 100_000
"""Longer texts are cut (and marked) at parse time: no network allows more, and a hostile payload
must not be able to fill the store."""


class Visibility(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class ConversationStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class ReplyStatus(StrEnum):
    DRAFT = "draft"
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class Role(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"
    VIEWER = "viewer"


def without_nul(value: Any) -> Any:
    """``value`` with NUL characters removed from every string in it, dict keys included.

    NUL is legal in JSON and in Python strings, but PostgreSQL refuses it in text and jsonb: one
    display name or payload field with "\\u0000" made a message unstorable there, and its dead
    letter too. Iterative, so a deeply nested payload cannot exhaust the recursion limit.
    """
    if isinstance(value, str):
        return value.replace("\x00", "")
    if not isinstance(value, dict | list):
        return value
    root: list[Any] = [None]
    stack: list[tuple[Any, list[Any] | dict[Any, Any], Any]] = [(value, root, 0)]
    while stack:
        source, target, slot = stack.pop()
        if isinstance(source, dict):
            copy: dict[Any, Any] = {}
            target[slot] = copy
            for key, item in source.items():
                clean_key = key.replace("\x00", "") if isinstance(key, str) else key
                copy[clean_key] = None
                stack.append((item, copy, clean_key))
        elif isinstance(source, list):
            items: list[Any] = [None] * len(source)
            target[slot] = items
            stack.extend((item, items, index) for index, item in enumerate(source))
        else:
            target[slot] = source.replace("\x00", "") if isinstance(source, str) else source
    return root[0]


class AuthorIdentity(BaseModel):
    """Who wrote a message, as the network knows them."""

    model_config = ConfigDict(frozen=True)

    external_id: str = Field(min_length=1, max_length=512)
    handle: str = Field(default="", max_length=512)
    display_name: str = Field(default="", max_length=512)
    reach: int | None = Field(default=None, ge=0, description="Followers or audience size, if known.")
    url: str | None = Field(default=None, max_length=2048)

    @field_validator("external_id", "handle", "display_name", "url", mode="before")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        return without_nul(value)


class InboundMessage(BaseModel):
    """One post, comment or private message as a connector hands it to the pipeline."""

    channel: str = Field(min_length=1, max_length=64, description="Connector name, e.g. 'mastodon'.")
    account: str = Field(default="default", min_length=1, max_length=128)
    external_id: str = Field(min_length=1, max_length=512)
    author: AuthorIdentity
    text: str = Field(max_length=MAX_TEXT_CHARS)
    language: str | None = Field(default=None, max_length=16)
    visibility: Visibility = Visibility.PUBLIC
    direction: Direction = Direction.INBOUND
    in_reply_to: str | None = Field(default=None, max_length=512, description="Parent's external id.")
    thread_root: str | None = Field(default=None, max_length=512, description="Root's external id.")
    created_at: datetime = Field(default_factory=utcnow)
    url: str | None = Field(default=None, max_length=2048)
    raw: dict[str, Any] = Field(default_factory=dict, description="The network's payload, kept for audit.")

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)

    @field_validator(
        "channel",
        "account",
        "external_id",
        "text",
        "language",
        "in_reply_to",
        "thread_root",
        "url",
        "raw",
        mode="before",
    )
    @classmethod
    def _no_nul(cls, value: object) -> object:
        return without_nul(value)


class OutboundReply(BaseModel):
    """What a connector needs to deliver an agent's answer."""

    reply_id: str
    account: str
    text: str
    visibility: Visibility
    recipient: AuthorIdentity
    in_reply_to: str | None = Field(default=None, description="External id of the message answered.")
    thread_root: str | None = None
    conversation_id: str


class SentReceipt(BaseModel):
    """The network's id (and link) for a delivered reply."""

    external_id: str
    url: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
