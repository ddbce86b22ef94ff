"""The widget's wire format: what the visitor's browser sends and what it gets back.

Everything a browser sends is untrusted: parsed into these models (never walked as dicts),
bounded in size, and stored as is; names and texts with HTML in them stay text (the widget and
the agent app both insert them as text, never as markup).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

MAX_TEXT_CHARS = 5_000
"""Longest visitor message (the same as the agents' limit on this channel)."""
MAX_BODY_BYTES = 64 * 1024
"""Larger request bodies are refused before they are parsed (a 5,000-character text in JSON,
even all escaped, stays well below)."""
MAX_NAME_CHARS = 100


def _blank_to_none(value: object) -> object:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


class SessionRequest(BaseModel):
    """POST /webchat/{account}/session: start, or resume with the stored token."""

    model_config = ConfigDict(extra="ignore")

    token: str | None = Field(default=None, max_length=2048, description="The token the widget kept, if any.")
    name: str | None = Field(default=None, max_length=MAX_NAME_CHARS)
    email: EmailStr | None = Field(default=None, max_length=320)

    _blank = field_validator("token", "name", "email", mode="before")(_blank_to_none)


class SessionResponse(BaseModel):
    token: str
    visitor_id: str
    resumed: bool = Field(description="False: a new visitor (no token given, or a forged or expired one).")
    name: str | None
    email: str | None
    title: str
    greeting: str
    require_email: bool
    max_text_length: int


class MessageRequest(BaseModel):
    """POST /webchat/{account}/messages."""

    model_config = ConfigDict(extra="ignore")

    text: str = Field(max_length=MAX_TEXT_CHARS)
    client_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="The widget's id for this message; a retried request with the same one is stored once.",
    )
    page: str | None = Field(default=None, max_length=2048, description="The page the visitor wrote from.")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the message is empty")
        return value


class MessageAccepted(BaseModel):
    id: str
    created_at: datetime


class TranscriptMessage(BaseModel):
    """One line of the visitor's transcript, in history and on the live stream alike."""

    id: str = Field(description="The message's external id on the webchat channel.")
    direction: Literal["inbound", "outbound"] = Field(description="inbound: the visitor wrote it.")
    text: str
    author: str
    created_at: datetime


class Transcript(BaseModel):
    messages: list[TranscriptMessage]
