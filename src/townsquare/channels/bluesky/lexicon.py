"""Typed models of the AT Protocol / Bluesky lexicon types this connector reads and writes.

Field names follow Python style; the wire names (camelCase, `$type`) are aliases, so
`model_validate` reads the network's JSON and `wire()` writes it back. Models of what the network
sends ignore unknown fields (lexicons grow); models of what we send forbid them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

POST: Final = "app.bsky.feed.post"
MENTION: Final = "app.bsky.richtext.facet#mention"
LINK: Final = "app.bsky.richtext.facet#link"
QUOTE_EMBEDS = ("app.bsky.embed.record", "app.bsky.embed.recordWithMedia")


class Incoming(BaseModel):
    """Something the network sends: unknown fields are ignored, wire names are accepted."""

    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)


class Outgoing(BaseModel):
    """Something we send: exactly the lexicon's fields."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


# com.atproto.server.createSession / refreshSession


class CreateSessionInput(Outgoing):
    identifier: str = Field(min_length=1)
    password: str = Field(min_length=1)


class Session(Incoming):
    access_jwt: str = Field(min_length=1)
    refresh_jwt: str = Field(min_length=1)
    handle: str
    did: str = Field(min_length=1)
    active: bool | None = None
    status: str | None = None


class XrpcErrorBody(Incoming):
    """The body of every XRPC error response."""

    error: str = ""
    message: str = ""


# com.atproto.repo.strongRef, app.bsky.feed.post, app.bsky.richtext.facet


class StrongRef(Incoming):
    uri: str = Field(min_length=1, max_length=8192)
    cid: str = Field(min_length=1, max_length=512)


class ReplyRef(Incoming):
    root: StrongRef
    parent: StrongRef


class ByteSlice(Incoming):
    byte_start: int = Field(ge=0)
    byte_end: int = Field(ge=0)


class FacetFeature(Incoming):
    """One feature of a facet; which fields are set depends on `$type` (mention, link, tag)."""

    type: str = Field(default="", alias="$type")
    did: str | None = None
    uri: str | None = None
    tag: str | None = None


class Facet(Incoming):
    index: ByteSlice
    features: list[FacetFeature] = Field(default_factory=list)


class EmbedRecord(Incoming):
    """`app.bsky.embed.record` (a quote) and `recordWithMedia`, which nests the quote once more."""

    type: str = Field(default="", alias="$type")
    record: StrongRef | EmbedRecord | None = None

    def quoted_uri(self) -> str | None:
        if self.type not in QUOTE_EMBEDS:
            return None
        inner = self.record
        if isinstance(inner, EmbedRecord):
            inner = inner.record if isinstance(inner.record, StrongRef) else None
        return inner.uri if isinstance(inner, StrongRef) else None


class PostRecord(Incoming):
    """An `app.bsky.feed.post` record as it arrives (text limits are enforced when normalizing,
    not here, so an over-long post is cut rather than lost)."""

    type: Literal["app.bsky.feed.post"] = Field(alias="$type")
    text: str
    created_at: str = ""
    reply: ReplyRef | None = None
    facets: list[Facet] | None = None
    langs: list[str] | None = None
    embed: EmbedRecord | None = None


# app.bsky.actor.defs, app.bsky.feed.defs, app.bsky.notification.listNotifications


class ProfileBasic(Incoming):
    """`profileViewBasic` and `profileView`: who wrote a post or caused a notification."""

    did: str = Field(min_length=1, max_length=2048)
    handle: str = Field(min_length=1, max_length=2048)
    display_name: str | None = None


class ProfileDetailed(ProfileBasic):
    """`profileViewDetailed` from `app.bsky.actor.getProfiles`: has the follower count."""

    followers_count: int | None = Field(default=None, ge=0)


class PostView(Incoming):
    uri: str = Field(min_length=1, max_length=8192)
    cid: str = Field(min_length=1, max_length=512)
    author: ProfileBasic
    record: PostRecord
    indexed_at: datetime


class Notification(Incoming):
    uri: str = Field(min_length=1, max_length=8192)
    cid: str = Field(min_length=1, max_length=512)
    author: ProfileBasic
    reason: str
    reason_subject: str | None = None
    is_read: bool = False
    indexed_at: datetime


class Page(Incoming):
    """A list response whose items are validated one by one, so one malformed item is skipped
    instead of failing the whole page."""

    cursor: str | None = None


class NotificationPage(Page):
    notifications: list[Any]


class PostsOutput(Incoming):
    posts: list[Any]


class ProfilesOutput(Incoming):
    profiles: list[Any]


class UpdateSeenInput(Outgoing):
    seen_at: str


# com.atproto.repo.createRecord / getRecord


class MentionFeature(Outgoing):
    type: Literal["app.bsky.richtext.facet#mention"] = Field(default=MENTION, alias="$type")
    did: str


class LinkFeature(Outgoing):
    type: Literal["app.bsky.richtext.facet#link"] = Field(default=LINK, alias="$type")
    uri: str


class OutByteSlice(Outgoing):
    byte_start: int = Field(ge=0)
    byte_end: int = Field(ge=0)


class OutFacet(Outgoing):
    index: OutByteSlice
    features: list[MentionFeature | LinkFeature]


class OutStrongRef(Outgoing):
    uri: str
    cid: str


class OutReplyRef(Outgoing):
    root: OutStrongRef
    parent: OutStrongRef


class NewPost(Outgoing):
    type: Literal["app.bsky.feed.post"] = Field(default=POST, alias="$type")
    text: str
    created_at: str
    reply: OutReplyRef | None = None
    facets: list[OutFacet] | None = None
    langs: list[str] | None = None


class CreateRecordInput(Outgoing):
    repo: str
    collection: Literal["app.bsky.feed.post"] = POST
    rkey: str | None = None
    record: NewPost


class CreateRecordOutput(Incoming):
    uri: str = Field(min_length=1)
    cid: str = Field(min_length=1)


class GetRecordOutput(Incoming):
    uri: str = Field(min_length=1)
    cid: str | None = None


# chat.bsky.convo.* (through the PDS's service proxy)


class ChatMember(Incoming):
    did: str
    handle: str = ""


class ConvoView(Incoming):
    id: str = Field(min_length=1)
    rev: str
    members: list[ChatMember]
    muted: bool = False
    unread_count: int = 0


class ConvoForMembersOutput(Incoming):
    convo: ConvoView


class MessageInput(Outgoing):
    text: str
    facets: list[OutFacet] | None = None


class SendMessageInput(Outgoing):
    convo_id: str
    message: MessageInput


class MessageSender(Incoming):
    did: str


class MessageView(Incoming):
    id: str = Field(min_length=1)
    rev: str
    text: str
    sender: MessageSender
    sent_at: datetime


# chat.bsky.convo.getLog / listConvos / updateRead: receiving direct messages

LOG_BEGIN_CONVO: Final = "chat.bsky.convo.defs#logBeginConvo"
LOG_CREATE_MESSAGE: Final = "chat.bsky.convo.defs#logCreateMessage"
LOG_DELETE_MESSAGE: Final = "chat.bsky.convo.defs#logDeleteMessage"
MESSAGE_VIEW: Final = "chat.bsky.convo.defs#messageView"
DELETED_MESSAGE_VIEW: Final = "chat.bsky.convo.defs#deletedMessageView"


class ChatProfile(Incoming):
    """`chat.bsky.actor.defs#profileViewBasic`, as `relatedProfiles` carries it."""

    did: str = Field(min_length=1, max_length=2048)
    handle: str = Field(default="", max_length=2048)
    display_name: str | None = None


class LogEntry(Incoming):
    """What every `getLog` entry has: read first, so an entry of a kind we do not handle (or a
    broken one) still moves the cursor past its `rev`."""

    type: str = Field(alias="$type")
    rev: str = Field(min_length=1)
    convo_id: str = Field(min_length=1, max_length=512)


class LoggedMessage(Incoming):
    """`messageView` or `deletedMessageView` (no text) inside a log entry."""

    type: str = Field(default=MESSAGE_VIEW, alias="$type")
    id: str = Field(min_length=1, max_length=512)
    rev: str
    text: str | None = None
    sender: MessageSender
    sent_at: datetime

    @property
    def deleted(self) -> bool:
        return self.type == DELETED_MESSAGE_VIEW or self.text is None


class LogMessageEntry(LogEntry):
    """`logCreateMessage` and `logDeleteMessage`."""

    message: LoggedMessage
    related_profiles: list[ChatProfile] | None = None


class LogOutput(Incoming):
    cursor: str | None = None
    logs: list[Any]


class ConvosOutput(Incoming):
    cursor: str | None = None
    convos: list[Any]


class ConvoRev(Incoming):
    """Just the `rev` of a `convoView` from `listConvos`: where the log stands for it."""

    rev: str = Field(min_length=1)


class UpdateReadInput(Outgoing):
    convo_id: str
    message_id: str | None = None
