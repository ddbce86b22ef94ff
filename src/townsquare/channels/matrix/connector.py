"""The Matrix connector: a bot account of the company on any homeserver.

Receives: `m.room.message` events through `/sync` long-polling (`stream`; `poll` is one sync for
catching up), resuming from the stored `next_batch` token, so a restart neither loses nor
duplicates anything. Invites are accepted (`auto_join`). Sends: `PUT .../send/m.room.message/
{txnId}` with the reply's id as txnId, so a retried reply is one event. Public replies are
Matrix replies (`m.in_reply_to` with a quoted fallback, inside the thread if the customer wrote in
one); private replies go to the direct chat with the customer, created (and recorded in
`m.direct`) when there is none.

External ids are `"{room_id}/{event_id}"` (see ids.py): the room must travel with the id.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator

from townsquare.channels.base import (
    ChannelLimits,
    Connector,
    ConnectorSettings,
    DeliveryError,
    PollResult,
    RateLimited,
)
from townsquare.channels.matrix.client import MatrixClient
from townsquare.channels.matrix.events import EventTranslator, parse_envelope, permalink, strip_reply_fallback
from townsquare.channels.matrix.ids import EventRef, NotAMatrixId, external_id
from townsquare.channels.matrix.payloads import (
    DirectRooms,
    MemberContent,
    Mentions,
    MessageContent,
    OutgoingInReplyTo,
    OutgoingMessage,
    OutgoingRelation,
    RawEvent,
    StrippedStateEvent,
    SyncResponse,
)
from townsquare.channels.matrix.rooms import RoomDirectory
from townsquare.model import InboundMessage, OutboundReply, SentReceipt, Visibility

log = logging.getLogger(__name__)

TIMELINE_LIMIT = 50
BACKFILL_PAGES = 20
"""At most this many pages of 100 events are fetched to fill one room's gap after a long outage."""
FALLBACK_LINES = 5
FALLBACK_CHARS = 300


class MatrixSettings(ConnectorSettings):
    homeserver: str = Field(description="The homeserver's client API address, e.g. https://matrix.example.com")
    user_id: str = Field(
        pattern=r"^@[^:]+:.+$", max_length=255, description="The company's bot account, e.g. @acme:example.com"
    )
    access_token: SecretStr | None = Field(
        default=None,
        description="Access token of the bot account (preferred: one stable device).",
        json_schema_extra={"secret": True},
    )
    password: SecretStr | None = Field(
        default=None,
        description="Password of the bot account, used to log in when there is no token or it expired.",
        json_schema_extra={"secret": True},
    )
    auto_join: Literal["all", "direct", "none"] = Field(
        default="all",
        description="Accept invites: 'all' rooms, only 'direct' chats, or 'none' (join rooms by hand).",
    )
    sync_timeout_seconds: int = Field(
        default=8,
        ge=0,
        le=60,
        description="How long one /sync long-poll waits for news. Stopping Townsquare waits for at most this.",
    )

    @field_validator("auto_join", mode="before")
    @classmethod
    def _yes_no(cls, value: object) -> object:
        # `--set auto_join=true` reads naturally too: yes means every room, no means none.
        aliases = {"true": "all", "yes": "all", "1": "all", "false": "none", "no": "none", "0": "none"}
        if isinstance(value, bool):
            return "all" if value else "none"
        return aliases.get(value.lower(), value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _credentials(self) -> MatrixSettings:
        if self.access_token is None and self.password is None:
            raise ValueError("set access_token or password")
        return self


def sync_filter(timeline_limit: int = TIMELINE_LIMIT) -> dict[str, Any]:
    """Only what the connector reads: room timelines and state (full member lists, not lazy
    loaded, since membership decides public or private) and the `m.direct` account data."""
    return {
        "presence": {"not_types": ["*"]},
        "account_data": {"types": ["m.direct"]},
        "room": {
            "timeline": {"limit": timeline_limit},
            "state": {"lazy_load_members": False},
            "ephemeral": {"not_types": ["*"]},
            "account_data": {"not_types": ["*"]},
        },
    }


class MatrixConnector(Connector):
    name = "matrix"
    title = "Matrix"
    description = "Rooms and direct chats of a bot account on any Matrix homeserver (client-server API, /sync)."
    settings_model = MatrixSettings
    limits = ChannelLimits(max_text_length=8000, public_replies=True, private_messages=True, media=False)
    receives: ClassVar[tuple[str, ...]] = ("stream",)
    poll_interval_seconds = 5.0

    settings: MatrixSettings

    def __init__(
        self, account: str, settings: ConnectorSettings, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__(account, settings, transport=transport)
        secret = self.settings.access_token or None
        password = self.settings.password or None
        self.client = MatrixClient(
            self.settings.homeserver,
            self.settings.user_id,
            access_token=secret.get_secret_value() if secret else None,
            password=password.get_secret_value() if password else None,
            transport=transport,
        )
        self.rooms = RoomDirectory()
        self.translator = EventTranslator(self.name, account, self.settings.user_id, self.rooms)
        self._direct_loaded = False
        self._direct_lock = threading.Lock()

    # Receiving

    def poll(self, cursor: str | None) -> PollResult:
        """One sync without waiting. The very first one (no cursor) only marks where Townsquare
        starts: history from before the account was connected is not imported."""
        sync = self.client.sync(cursor, 0, sync_filter())
        messages = self.process_sync(sync, since=cursor)
        return PollResult(messages if cursor else [], sync.next_batch)

    def stream(self, cursor: str | None, stop: threading.Event) -> Iterator[PollResult]:
        timeout_ms = self.settings.sync_timeout_seconds * 1000
        while not stop.is_set():
            try:
                sync = self.client.sync(cursor, timeout_ms, sync_filter())
            except RateLimited as error:
                log.warning("matrix: /sync rate limited; waiting %.1f s", error.retry_after or 5.0)
                stop.wait(error.retry_after or 5.0)
                continue
            if stop.is_set():
                return  # stopped while waiting: the next run syncs again from the stored cursor
            messages = self.process_sync(sync, since=cursor)
            yield PollResult(messages if cursor else [], sync.next_batch)
            cursor = sync.next_batch

    def process_sync(self, sync: SyncResponse, *, since: str | None) -> list[InboundMessage]:
        """Everything one `/sync` answer means: direct-chat list, invites to accept, and the
        messages of the joined rooms in timeline order. `since=None` is an initial sync, whose
        `state` blocks hold each room's full state."""
        self._load_direct()
        for event in sync.account_data.events:
            if event.type == "m.direct":
                try:
                    self.rooms.set_direct(DirectRooms.model_validate(event.content))
                except ValidationError:
                    log.warning("matrix: ignoring malformed m.direct account data")
        for room_id, invited in sync.rooms.invite.items():
            self._invited(room_id, invited.invite_state.events)
        for room_id in sync.rooms.leave:
            self.rooms.forget(room_id)
        messages: list[InboundMessage] = []
        seen: set[str] = set()
        for room_id, room in sync.rooms.join.items():
            if not self.rooms.knows(room_id):
                self.rooms.start_room(room_id, None if since is None else self.client.joined_members(room_id))
            for raw in room.state.events:
                self.translator.apply_state(room_id, raw)
            timeline = room.timeline.events
            if since and room.timeline.limited and room.timeline.prev_batch:
                timeline = self._backfill(room_id, room.timeline.prev_batch, since) + timeline
            for raw in timeline:
                message = self.translator.translate(room_id, raw)
                if message is not None and message.external_id not in seen:
                    seen.add(message.external_id)
                    messages.append(message)
        return messages

    def _backfill(self, room_id: str, prev_batch: str, since: str) -> list[RawEvent]:
        """The timeline was cut (more events than the filter's limit since our token): fetch the
        gap back to the token, so nothing sent while Townsquare was down is skipped."""
        pages: list[list[RawEvent]] = []
        token: str | None = prev_batch
        for _ in range(BACKFILL_PAGES):
            if token is None:
                break
            page = self.client.messages_before(room_id, token, since)
            if not page.chunk:
                break
            pages.append(list(reversed(page.chunk)))
            token = page.end if page.end != token else None
        else:
            log.warning("matrix: gap in %s longer than %d pages; older events skipped", room_id, BACKFILL_PAGES)
        return [event for page in reversed(pages) for event in page]

    def _invited(self, room_id: str, raw_events: list[RawEvent]) -> None:
        invite: MemberContent | None = None
        inviter = ""
        for raw in raw_events:
            try:
                event = StrippedStateEvent.model_validate(raw)
                if event.type == "m.room.member" and event.state_key == self.client.user_id:
                    invite, inviter = MemberContent.model_validate(event.content), event.sender
            except ValidationError:
                continue
        if invite is None or invite.membership != "invite":
            log.warning("matrix: ignoring an invite to %s without a readable invite event", room_id)
            return
        mode = self.settings.auto_join
        if mode == "none" or (mode == "direct" and not invite.is_direct):
            log.info("matrix: not joining %s (auto_join=%s)", room_id, mode)
            return
        try:
            self.client.join(room_id)
        except DeliveryError as error:
            if not error.retryable:
                log.warning("matrix: could not join %s: %s", room_id, error)
                return
            raise
        log.info("matrix: joined %s", room_id)
        if invite.is_direct:
            self.rooms.mark_direct(room_id)
            self._record_direct(inviter, room_id)

    # Sending

    def send(self, reply: OutboundReply) -> SentReceipt:
        if len(reply.text) > self.limits.max_text_length:
            raise DeliveryError(f"reply longer than {self.limits.max_text_length} characters", retryable=False)
        try:
            target = EventRef.parse(reply.in_reply_to) if reply.in_reply_to else None
        except NotAMatrixId as error:
            raise DeliveryError(str(error), retryable=False) from error
        if reply.visibility == Visibility.PUBLIC:
            if target is None:
                raise DeliveryError("a public Matrix reply needs the message it answers", retryable=False)
            room_id, message = target.room_id, self._reply_to(target, reply.text)
        elif target is not None and self._is_private_room(target.room_id):
            room_id, message = target.room_id, self._reply_to(target, reply.text)
        else:
            recipient = reply.recipient.external_id
            if not recipient.startswith("@"):
                raise DeliveryError(f"not a Matrix user id: {recipient[:80]!r}", retryable=False)
            room_id = self._direct_room(recipient)
            message = OutgoingMessage(body=reply.text, mentions=Mentions(user_ids=[recipient]))
        event_id = self.client.send_message(room_id, reply.reply_id, message)
        return SentReceipt(external_id=external_id(room_id, event_id), url=permalink(room_id, event_id))

    def _reply_to(self, target: EventRef, text: str) -> OutgoingMessage:
        """A Matrix reply: `m.in_reply_to`, a quoted fallback for older clients, a mention of
        the author, and the thread relation when the answered message is in a thread."""
        original = self.client.event(target.room_id, target.event_id)
        envelope = parse_envelope(original, target.room_id) if original is not None else None
        content: MessageContent | None = None
        if envelope is not None:
            try:
                content = MessageContent.model_validate(envelope.content)
            except ValidationError:
                content = None
        relation = OutgoingRelation(in_reply_to=OutgoingInReplyTo(event_id=target.event_id))
        thread = content.relates_to if content is not None else None
        if thread is not None and thread.rel_type == "m.thread" and thread.event_id:
            relation.rel_type, relation.event_id, relation.is_falling_back = "m.thread", thread.event_id, False
        body = text
        mentions = None
        if envelope is not None and content is not None:
            body = fallback(envelope.sender, content.body) + text
            if envelope.sender != self.client.user_id:
                mentions = Mentions(user_ids=[envelope.sender])
        return OutgoingMessage(body=body, relates_to=relation, mentions=mentions)

    def _is_private_room(self, room_id: str) -> bool:
        self._load_direct()
        if not self.rooms.knows(room_id):
            self.rooms.start_room(room_id, self.client.joined_members(room_id))
        return self.rooms.is_private(room_id)

    def _direct_room(self, user_id: str) -> str:
        """The direct chat with `user_id` that both still share (newest first), or a new one."""
        with self._direct_lock:
            self._load_direct()
            for room_id in reversed(self.rooms.direct().root.get(user_id, [])):
                theirs = self.client.member_state(room_id, user_id)
                ours = self.client.member_state(room_id, self.client.user_id)
                if theirs and ours and theirs.membership in ("join", "invite") and ours.membership == "join":
                    return room_id
            room_id = self.client.create_direct_room(user_id)
            log.info("matrix: created a direct chat %s", room_id)
            self.rooms.mark_direct(room_id)
            self._record_direct_locked(user_id, room_id)
            return room_id

    def _load_direct(self) -> None:
        if not self._direct_loaded:
            self.rooms.set_direct(self.client.direct_rooms())
            self._direct_loaded = True

    def _record_direct(self, user_id: str, room_id: str) -> None:
        with self._direct_lock:
            self._record_direct_locked(user_id, room_id)

    def _record_direct_locked(self, user_id: str, room_id: str) -> None:
        # Read-modify-write of the newest list: other clients of the account may have added rooms.
        direct = self.client.direct_rooms()
        rooms = direct.root.setdefault(user_id, [])
        if room_id not in rooms:
            rooms.append(room_id)
            self.client.set_direct_rooms(direct)
        self.rooms.set_direct(direct)

    def close(self) -> None:
        self.client.close()


def fallback(sender: str, body: str) -> str:
    """The quoted lines in front of a reply's body: `> <@sender> first line` and so on."""
    lines = strip_reply_fallback(body)[:FALLBACK_CHARS].split("\n")[:FALLBACK_LINES]
    quoted = [f"> <{sender}> {lines[0]}"] + [f"> {line}" for line in lines[1:]]
    return "\n".join(quoted) + "\n\n"
