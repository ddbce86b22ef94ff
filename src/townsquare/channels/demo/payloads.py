"""The demo network's wire format, as typed models. Both the network and the connector use them,
as a real network's SDK and a real client would share one published schema."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SIGNATURE_HEADER = "X-Demo-Signature"


class DemoUser(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=128)
    handle: str = Field(min_length=1, max_length=128)
    name: str = Field(default="", max_length=256)
    followers: int = Field(default=0, ge=0)


class DemoPost(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=128)
    author: DemoUser
    text: str = Field(max_length=10_000)
    visibility: Literal["public", "direct"]
    in_reply_to: str | None = Field(default=None, max_length=128)
    thread_root: str | None = Field(default=None, max_length=128)
    recipient: str | None = Field(default=None, max_length=128, description="Handle a direct message is for.")
    lang: str | None = Field(default=None, max_length=16)
    created_at: datetime
    url: str | None = Field(default=None, max_length=2048)


class PostCreated(BaseModel):
    """The one event the demo network delivers by webhook."""

    model_config = ConfigDict(extra="ignore")

    event: Literal["post.created"]
    delivery_id: str = Field(min_length=1, max_length=128)
    post: DemoPost


class EventEnvelope(BaseModel):
    model_config = ConfigDict(extra="allow")

    event: str = Field(max_length=64)


class NewPost(BaseModel):
    """What an account sends to publish: a public reply or a direct message."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=500)
    visibility: Literal["public", "direct"] = "public"
    in_reply_to: str | None = Field(default=None, max_length=128)
    recipient: str | None = Field(default=None, max_length=128)
