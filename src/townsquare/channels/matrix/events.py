"""Turns one room event into an `InboundMessage` (or into a membership update, or nothing).

Messages: `m.room.message` of any msgtype (text, notices, emotes; media and locations are kept
as a one-line description, since Townsquare does not store media). Ids are `"{room}/{event}"`
(see ids.py). Own events, other event types and redactions are ignored (debug log); malformed
events are skipped with a warning naming the event, never its content.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from townsquare.channels.matrix.ids import external_id
from townsquare.channels.matrix.payloads import MemberContent, MessageContent, RawEvent, RoomEvent
from townsquare.channels.matrix.rooms import RoomDirectory
from townsquare.model import MAX_TEXT_CHARS, AuthorIdentity, InboundMessage, Visibility

log = logging.getLogger(__name__)

PERMALINK = "https://matrix.to/#/"
CUT_MARK = " […]"
MEDIA_TYPES = {"m.image": "image", "m.file": "file", "m.audio": "audio", "m.video": "video", "m.location": "location"}


def permalink(*parts: str) -> str:
    """matrix.to links are the spec's client-neutral permalinks; every Matrix client opens them."""
    return PERMALINK + "/".join(quote(part, safe="@:!$") for part in parts)


def strip_reply_fallback(body: str) -> str:
    """Drop the quoted `> <@user> ...` lines (and the blank line after them) that senders put in
    front of a reply for clients without reply support."""
    lines = body.split("\n")
    quoted = 0
    while quoted < len(lines) and lines[quoted].startswith(">"):
        quoted += 1
    if quoted == 0:
        return body
    if quoted < len(lines) and lines[quoted] == "":
        quoted += 1
    return "\n".join(lines[quoted:])


def cut(text: str) -> str:
    if len(text) <= MAX_TEXT_CHARS:
        return text
    return text[: MAX_TEXT_CHARS - len(CUT_MARK)] + CUT_MARK


def parse_envelope(raw: RawEvent, room_id: str) -> RoomEvent | None:
    try:
        return RoomEvent.model_validate(raw)
    except ValidationError as error:
        event_id = raw.get("event_id") if isinstance(raw.get("event_id"), str) else "?"
        log.warning(
            "matrix: skipping a malformed event %s in %s (%d invalid fields)", event_id, room_id, error.error_count()
        )
        return None


class EventTranslator:
    """Per connector: knows the channel, the account, the bot's own user id and the rooms."""

    def __init__(self, channel: str, account: str, own_user_id: str, rooms: RoomDirectory) -> None:
        self.channel = channel
        self.account = account
        self.own_user_id = own_user_id
        self.rooms = rooms
        self._encrypted_rooms: set[str] = set()

    def apply_state(self, room_id: str, raw: RawEvent) -> None:
        """A state event from the `state` block: only memberships matter to us."""
        event = parse_envelope(raw, room_id)
        if event is not None and event.type == "m.room.member":
            self._member(room_id, event)

    def translate(self, room_id: str, raw: RawEvent) -> InboundMessage | None:
        """A timeline event, in order: membership updates the room, messages come out."""
        event = parse_envelope(raw, room_id)
        if event is None:
            return None
        if event.type == "m.room.member":
            self._member(room_id, event)
            return None
        if event.type == "m.room.encrypted" and room_id not in self._encrypted_rooms:
            self._encrypted_rooms.add(room_id)
            log.warning("matrix: %s is end-to-end encrypted; its messages cannot be read", room_id)
        if event.type != "m.room.message":
            log.debug("matrix: ignoring %s event %s in %s", event.type[:64], event.event_id, room_id)
            return None
        if event.sender == self.own_user_id:
            log.debug("matrix: ignoring our own event %s", event.event_id)
            return None
        try:
            content = MessageContent.model_validate(event.content)
        except ValidationError as error:
            log.warning(
                "matrix: skipping malformed message %s in %s (%d invalid fields)",
                event.event_id,
                room_id,
                error.error_count(),
            )
            return None
        return self._message(room_id, event, content, raw)

    def _member(self, room_id: str, event: RoomEvent) -> None:
        if event.state_key is None:
            return
        try:
            member = MemberContent.model_validate(event.content)
        except ValidationError:
            log.warning("matrix: skipping malformed membership event %s in %s", event.event_id, room_id)
            return
        self.rooms.apply_member(room_id, event.state_key, member)

    def _message(self, room_id: str, event: RoomEvent, content: MessageContent, raw: RawEvent) -> InboundMessage:
        relation = content.relates_to
        in_reply_to: str | None = None
        thread_root: str | None = None
        body = content.body
        msgtype = content.msgtype
        if relation is not None and relation.rel_type == "m.replace" and relation.event_id:
            # An edit: stored as a follow-up to the message it corrects, with the new text.
            in_reply_to = external_id(room_id, relation.event_id)
            if content.new_content is not None:
                body, msgtype = content.new_content.body, content.new_content.msgtype
        elif relation is not None:
            if relation.rel_type == "m.thread" and relation.event_id:
                thread_root = external_id(room_id, relation.event_id)
            if relation.in_reply_to is not None:
                in_reply_to = external_id(room_id, relation.in_reply_to.event_id)
                if not relation.is_falling_back:
                    body = strip_reply_fallback(body)
            elif thread_root is not None:
                in_reply_to = thread_root
        display_name = self.rooms.display_name(room_id, event.sender)
        document: dict[str, Any] = {"room_id": room_id, **raw}
        return InboundMessage(
            channel=self.channel,
            account=self.account,
            external_id=external_id(room_id, event.event_id),
            author=AuthorIdentity(
                external_id=event.sender,
                handle=event.sender,
                display_name=display_name,
                url=permalink(event.sender),
            ),
            text=cut(self._text(msgtype, body, display_name or event.sender)),
            visibility=Visibility.PRIVATE if self.rooms.is_private(room_id) else Visibility.PUBLIC,
            in_reply_to=in_reply_to,
            thread_root=thread_root,
            created_at=datetime.fromtimestamp(event.origin_server_ts / 1000, tz=UTC),
            url=permalink(room_id, event.event_id),
            raw=document,
        )

    @staticmethod
    def _text(msgtype: str, body: str, name: str) -> str:
        if msgtype == "m.emote":
            return f"* {name} {body}"
        if msgtype in MEDIA_TYPES:
            return f"[{MEDIA_TYPES[msgtype]}: {body}]"
        return body
