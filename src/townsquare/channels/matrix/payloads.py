"""Matrix client-server API shapes the connector reads and writes, as typed models.

Only the fields Townsquare uses are declared; everything else a homeserver sends is ignored.
`/sync` keeps each room's events as raw JSON objects so that one malformed event is skipped on
its own (`RoomEvent.model_validate`) instead of failing the whole batch.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator

MAX_ID = 255
"""Longest id we accept: the spec caps room, event and user ids at 255 bytes; more is a hostile
or broken payload. Two of them and a "/" still fit the model's 512-character external ids."""
MAX_NAME = 256
"""Display names are cut to this length rather than refused: a hostile name must not hide a
member (and so change whether a room counts as private)."""


def _name(value: object) -> str | None:
    return value[:MAX_NAME] if isinstance(value, str) else None


RawEvent = dict[str, Any]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# Errors


class MatrixError(_Lenient):
    """The standard error body: `{"errcode": "M_...", "error": "..."}`."""

    errcode: str = Field(default="M_UNKNOWN", max_length=128)
    error: str = Field(default="", max_length=4096)
    retry_after_ms: int | None = Field(default=None, ge=0)
    soft_logout: bool = False


# Events


class RoomEvent(_Lenient):
    """The envelope every room event has (client format, as in `/sync` and `/messages`)."""

    type: str = Field(min_length=1, max_length=255)
    event_id: str = Field(min_length=1, max_length=MAX_ID)
    sender: str = Field(min_length=1, max_length=MAX_ID)
    origin_server_ts: int = Field(ge=0)
    state_key: str | None = Field(default=None, max_length=MAX_ID)
    content: dict[str, Any] = Field(default_factory=dict)


class StrippedStateEvent(_Lenient):
    """Invite state: events without ids or timestamps."""

    type: str = Field(max_length=255)
    sender: str = Field(max_length=MAX_ID)
    state_key: str = Field(max_length=MAX_ID)
    content: dict[str, Any] = Field(default_factory=dict)


class InReplyTo(_Lenient):
    event_id: str = Field(min_length=1, max_length=MAX_ID)


class RelatesTo(_Lenient):
    rel_type: str | None = Field(default=None, max_length=255)
    event_id: str | None = Field(default=None, min_length=1, max_length=MAX_ID)
    is_falling_back: bool = False
    in_reply_to: InReplyTo | None = Field(default=None, alias="m.in_reply_to")


class NewContent(_Lenient):
    body: str
    msgtype: str = Field(default="m.text", max_length=255)


class MessageContent(_Lenient):
    """`m.room.message` content. `formatted_body` (HTML) is deliberately not read: `body` is the
    plain-text form every sender must include, and HTML from strangers is not worth sanitising."""

    msgtype: str = Field(min_length=1, max_length=255)
    body: str
    relates_to: RelatesTo | None = Field(default=None, alias="m.relates_to")
    new_content: NewContent | None = Field(default=None, alias="m.new_content")


Membership = Literal["invite", "join", "knock", "leave", "ban"]


class MemberContent(_Lenient):
    membership: Membership
    displayname: str | None = None
    is_direct: bool = False

    _displayname = field_validator("displayname", mode="before")(_name)

    @field_validator("is_direct", mode="before")
    @classmethod
    def _flag(cls, value: object) -> bool:
        return value is True


# /sync


class EventList(_Lenient):
    events: list[RawEvent] = Field(default_factory=list)


class Timeline(EventList):
    limited: bool = False
    prev_batch: str | None = Field(default=None, max_length=MAX_ID)


class JoinedRoom(_Lenient):
    state: EventList = Field(default_factory=EventList)
    timeline: Timeline = Field(default_factory=Timeline)


class InvitedRoom(_Lenient):
    invite_state: EventList = Field(default_factory=EventList)


class Rooms(_Lenient):
    join: dict[str, JoinedRoom] = Field(default_factory=dict)
    invite: dict[str, InvitedRoom] = Field(default_factory=dict)
    leave: dict[str, dict[str, Any]] = Field(default_factory=dict)


class AccountDataEvent(_Lenient):
    type: str = Field(max_length=255)
    content: dict[str, Any] = Field(default_factory=dict)


class AccountData(_Lenient):
    events: list[AccountDataEvent] = Field(default_factory=list)


class SyncResponse(_Lenient):
    next_batch: str = Field(min_length=1, max_length=MAX_ID)
    rooms: Rooms = Field(default_factory=Rooms)
    account_data: AccountData = Field(default_factory=AccountData)


class MessagesResponse(_Lenient):
    """`GET /rooms/{room}/messages`: one page of a room's history."""

    chunk: list[RawEvent] = Field(default_factory=list)
    start: str | None = None
    end: str | None = None
    state: list[RawEvent] = Field(default_factory=list)


# Account data and requests/answers of the calls we make


class DirectRooms(RootModel[dict[str, list[str]]]):
    """`m.direct` account data: for each user id, the rooms that are direct chats with them."""

    root: dict[str, list[str]] = Field(default_factory=dict)


class JoinedMember(_Lenient):
    display_name: str | None = None

    _display_name = field_validator("display_name", mode="before")(_name)


class JoinedMembers(_Lenient):
    joined: dict[str, JoinedMember] = Field(default_factory=dict)


class LoginIdentifier(BaseModel):
    type: Literal["m.id.user"] = "m.id.user"
    user: str


class PasswordLogin(BaseModel):
    type: Literal["m.login.password"] = "m.login.password"
    identifier: LoginIdentifier
    password: str
    initial_device_display_name: str = "Townsquare"


class LoginResponse(_Lenient):
    access_token: str = Field(min_length=1)
    user_id: str = Field(min_length=1, max_length=MAX_ID)
    device_id: str | None = None


class CreateRoom(BaseModel):
    preset: Literal["trusted_private_chat"] = "trusted_private_chat"
    is_direct: Literal[True] = True
    invite: list[str]


class RoomIdResponse(_Lenient):
    room_id: str = Field(min_length=1, max_length=MAX_ID)


class EventIdResponse(_Lenient):
    event_id: str = Field(min_length=1, max_length=MAX_ID)


class OutgoingInReplyTo(BaseModel):
    event_id: str


class OutgoingRelation(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    rel_type: Literal["m.thread"] | None = None
    event_id: str | None = None
    is_falling_back: bool | None = None
    in_reply_to: OutgoingInReplyTo | None = Field(default=None, alias="m.in_reply_to")


class Mentions(BaseModel):
    user_ids: list[str] = Field(default_factory=list)


class OutgoingMessage(BaseModel):
    """The `m.room.message` we send: plain text, optionally a reply (and in a thread)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    msgtype: Literal["m.text"] = "m.text"
    body: str
    relates_to: OutgoingRelation | None = Field(default=None, alias="m.relates_to")
    mentions: Mentions | None = Field(default=None, alias="m.mentions")
