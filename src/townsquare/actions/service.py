"""The actions themselves. The API, the web app and the CLI all call these; none writes state
another way."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from townsquare.actions.base import SYSTEM, Actor, Conflict, Forbidden, Invalid, NotFound, PersonalDataInPublicReply
from townsquare.channels.registry import UnknownChannel, connector_class
from townsquare.clock import utcnow
from townsquare.events import Event, EventHub
from townsquare.model import ConversationStatus, Direction, Priority, Role, Visibility
from townsquare.security.passwords import hash_password
from townsquare.store import audit, contacts, labels, replies, users
from townsquare.store import conversations as convs
from townsquare.store.db import Database

if TYPE_CHECKING:
    from townsquare.triage import CustomPattern

TAG_MAX = 64
NOTE_MAX = 20_000
REPLY_MAX = 20_000


def token_digest(token: str) -> str:
    """API tokens are stored as SHA-256 digests: a leaked database leaks no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()


class Actions:
    def __init__(self, db: Database, events: EventHub, patterns: Sequence[CustomPattern] = ()) -> None:
        self.db = db
        self.events = events
        self.patterns = tuple(patterns)
        """The company's own identifiers, refused in public replies like phone numbers."""

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _require(actor: Actor, role: Role) -> None:
        if not actor.can(role):
            raise Forbidden(f"this needs the {role.value} role; you are {actor.role.value}")

    @staticmethod
    def _conversation(conn: Connection, conversation_id: str) -> dict[str, Any]:
        conversation = convs.get_conversation(conn, conversation_id)
        if conversation is None:
            raise NotFound(f"conversation {conversation_id} not found")
        return conversation

    def _audit(
        self, conn: Connection, actor: Actor, action: str, target_type: str, target_id: str, **details: Any
    ) -> None:
        audit.record(
            conn,
            actor_id=actor.id,
            actor_label=actor.label,
            action=action,
            target_type=target_type,
            target_id=target_id,
            details=details,
        )

    def _changed(self, conversation_id: str, change: str) -> None:
        self.events.publish(Event("conversation.updated", {"conversation_id": conversation_id, "change": change}))

    # -- conversations -----------------------------------------------------------------------

    def assign(self, actor: Actor, conversation_id: str, assignee_id: str | None) -> None:
        self._require(actor, Role.AGENT)
        with self.db.write() as conn:
            conversation = self._conversation(conn, conversation_id)
            if assignee_id is not None:
                assignee = users.user_by_id(conn, assignee_id)
                if assignee is None or not assignee["active"]:
                    raise Invalid(f"no active user {assignee_id}")
                if assignee["role"] == Role.VIEWER:
                    raise Invalid("viewers cannot be assigned conversations")
            values: dict[str, Any] = {"assignee_id": assignee_id}
            if conversation["status"] == ConversationStatus.NEW and assignee_id:
                values["status"] = ConversationStatus.OPEN.value
            convs.update_conversation(conn, conversation_id, **values)
            self._audit(
                conn,
                actor,
                "conversation.assign",
                "conversation",
                conversation_id,
                before=conversation["assignee_id"],
                after=assignee_id,
            )
        self._changed(conversation_id, "assignee")

    def set_status(self, actor: Actor, conversation_id: str, status: ConversationStatus) -> None:
        self._require(actor, Role.AGENT)
        with self.db.write() as conn:
            conversation = self._conversation(conn, conversation_id)
            values: dict[str, Any] = {"status": status.value}
            values["resolved_at"] = utcnow() if status == ConversationStatus.RESOLVED else None
            convs.update_conversation(conn, conversation_id, **values)
            self._audit(
                conn,
                actor,
                "conversation.status",
                "conversation",
                conversation_id,
                before=conversation["status"],
                after=status.value,
            )
        self._changed(conversation_id, "status")

    def set_priority(self, actor: Actor, conversation_id: str, priority: Priority) -> None:
        self._require(actor, Role.AGENT)
        with self.db.write() as conn:
            conversation = self._conversation(conn, conversation_id)
            convs.update_conversation(conn, conversation_id, priority=priority.value)
            self._audit(
                conn,
                actor,
                "conversation.priority",
                "conversation",
                conversation_id,
                before=conversation["priority"],
                after=priority.value,
            )
        self._changed(conversation_id, "priority")

    def set_team(self, actor: Actor, conversation_id: str, team_id: str | None) -> None:
        self._require(actor, Role.AGENT)
        with self.db.write() as conn:
            conversation = self._conversation(conn, conversation_id)
            if team_id is not None and team_id not in {t["id"] for t in users.list_teams(conn)}:
                raise Invalid(f"no team {team_id}")
            convs.update_conversation(conn, conversation_id, team_id=team_id)
            self._audit(
                conn,
                actor,
                "conversation.team",
                "conversation",
                conversation_id,
                before=conversation["team_id"],
                after=team_id,
            )
        self._changed(conversation_id, "team")

    def tag(self, actor: Actor, conversation_id: str, tag: str) -> None:
        self._require(actor, Role.AGENT)
        tag = tag.strip().lower()
        if not tag or len(tag) > TAG_MAX:
            raise Invalid(f"a tag has 1 to {TAG_MAX} characters")
        with self.db.write() as conn:
            self._conversation(conn, conversation_id)
            convs.add_tag(conn, conversation_id, tag)
            convs.update_conversation(conn, conversation_id)
            self._audit(conn, actor, "conversation.tag", "conversation", conversation_id, tag=tag)
        self._changed(conversation_id, "tags")

    def untag(self, actor: Actor, conversation_id: str, tag: str) -> None:
        self._require(actor, Role.AGENT)
        with self.db.write() as conn:
            self._conversation(conn, conversation_id)
            convs.remove_tag(conn, conversation_id, tag.strip().lower())
            convs.update_conversation(conn, conversation_id)
            self._audit(conn, actor, "conversation.untag", "conversation", conversation_id, tag=tag)
        self._changed(conversation_id, "tags")

    def add_note(self, actor: Actor, conversation_id: str, body: str) -> str:
        self._require(actor, Role.AGENT)
        body = body.strip()
        if not body or len(body) > NOTE_MAX:
            raise Invalid(f"a note has 1 to {NOTE_MAX} characters")
        with self.db.write() as conn:
            self._conversation(conn, conversation_id)
            note_id = convs.add_note(conn, conversation_id, actor.id, body)
            self._audit(conn, actor, "conversation.note", "conversation", conversation_id, note_id=note_id)
        self._changed(conversation_id, "notes")
        return note_id

    def label_message(
        self,
        actor: Actor,
        message_id: str,
        *,
        sentiment: str | None = None,
        intents: Sequence[str] | None = None,
        spam: bool | None = None,
        needs_reply: bool | None = None,
    ) -> None:
        """Say what triage should have answered for a customer's message (the fields given; the
        others keep an earlier correction). The labels are the company's own labelled history:
        ``townsquare export labelled`` writes them for ``townsquare train --labelled`` and
        ``townsquare eval triage``."""
        from townsquare.triage.schema import INTENTS, SENTIMENTS

        self._require(actor, Role.AGENT)
        label: dict[str, Any] = {}
        if sentiment is not None:
            if sentiment not in SENTIMENTS:
                raise Invalid(f"sentiment is one of {', '.join(SENTIMENTS)}")
            label["sentiment"] = sentiment
        if intents is not None:
            chosen = list(intents)
            if not chosen or any(i not in INTENTS for i in chosen) or len(set(chosen)) != len(chosen):
                raise Invalid(f"intents is a list of distinct intents, the main one first: {', '.join(INTENTS)}")
            label["intents"] = chosen
        if spam is not None:
            label["spam"] = bool(spam)
        if needs_reply is not None:
            label["needs_reply"] = bool(needs_reply)
        if not label:
            raise Invalid("say at least one of sentiment, intents, spam, needs_reply")
        with self.db.write() as conn:
            message = convs.message_by_id(conn, message_id)
            if message is None:
                raise NotFound(f"message {message_id} not found")
            if message["direction"] != Direction.INBOUND:
                raise Invalid("only customers' messages are triaged, so only they can be labelled")
            labels.save_label(conn, message_id, label, actor.id, utcnow())
            conversation_id = message["conversation_id"]
            if "sentiment" in label and convs.latest_inbound_message_id(conn, conversation_id) == message_id:
                # The conversation shows the customer's mood now, its newest post's sentiment (the
                # inbox column): the agent's word replaces the model's there too.
                convs.update_conversation(conn, conversation_id, sentiment=label["sentiment"])
            model = {"sentiment": message["sentiment"], "intent": message["intent"]}
            self._audit(conn, actor, "message.label", "message", message_id, **label, model=model)
        self._changed(conversation_id, "label")

    def unlabel_message(self, actor: Actor, message_id: str) -> None:
        """Withdraw a message's label (a correction that was itself wrong): the message leaves the
        labelled history, and a conversation whose sentiment came from it shows triage's again."""
        self._require(actor, Role.AGENT)
        with self.db.write() as conn:
            message = convs.message_by_id(conn, message_id)
            if message is None:
                raise NotFound(f"message {message_id} not found")
            label = labels.label_of(conn, message_id)
            if label is None:
                raise NotFound(f"message {message_id} has no label")
            labels.delete_label(conn, message_id)
            conversation_id = message["conversation_id"]
            if label["sentiment"] is not None and convs.latest_inbound_message_id(conn, conversation_id) == message_id:
                convs.update_conversation(conn, conversation_id, sentiment=message["sentiment"])
            withdrawn = {name: label[name] for name in labels.LABEL_FIELDS if label[name] is not None}
            self._audit(conn, actor, "message.unlabel", "message", message_id, withdrawn=withdrawn)
        self._changed(conversation_id, "label")

    def reply(
        self,
        actor: Actor,
        conversation_id: str,
        text: str,
        visibility: Visibility,
        in_reply_to_message_id: str | None = None,
        *,
        draft: bool = False,
    ) -> str:
        """Queue a reply in the outbox, after the channel's limits and the public-reply guard.
        A draft is stored without checks or delivery; `send_draft` queues it later."""
        self._require(actor, Role.AGENT)
        text = text.strip()
        if not text:
            raise Invalid("the reply is empty")
        with self.db.write() as conn:
            conversation = self._conversation(conn, conversation_id)
            target = convs.reply_target(conn, conversation_id, in_reply_to_message_id)
            if target is None:
                raise Invalid("there is no customer message in this conversation to answer")
            if not draft:
                self._check_reply(conversation["channel"], text, visibility)
            reply_id = replies.queue_reply(
                conn,
                conversation_id=conversation_id,
                author_id=actor.id,
                in_reply_to_message_id=target["id"],
                visibility=visibility.value,
                text=text,
                status="draft" if draft else "queued",
            )
            action = "conversation.draft" if draft else "conversation.reply"
            self._audit(
                conn, actor, action, "conversation", conversation_id, reply_id=reply_id, visibility=visibility.value
            )
        kind = "reply.drafted" if draft else "reply.queued"
        self.events.publish(Event(kind, {"conversation_id": conversation_id, "reply_id": reply_id}))
        return reply_id

    def send_draft(
        self, actor: Actor, reply_id: str, text: str | None = None, visibility: Visibility | None = None
    ) -> None:
        """Queue a draft (optionally edited) for delivery, with the same checks as a new reply."""
        self._require(actor, Role.AGENT)
        with self.db.write() as conn:
            draft = replies.get_reply(conn, reply_id)
            if draft is None or draft["status"] != "draft":
                raise NotFound(f"no draft {reply_id}")
            conversation = self._conversation(conn, draft["conversation_id"])
            final_text = (text if text is not None else draft["text"]).strip()
            final_visibility = visibility or Visibility(draft["visibility"])
            if not final_text:
                raise Invalid("the reply is empty")
            self._check_reply(conversation["channel"], final_text, final_visibility)
            replies.update_reply(
                conn,
                reply_id,
                status="queued",
                text=final_text,
                visibility=final_visibility.value,
                next_attempt_at=utcnow(),
                author_id=actor.id,
            )
            self._audit(
                conn,
                actor,
                "conversation.reply",
                "conversation",
                conversation["id"],
                reply_id=reply_id,
                visibility=final_visibility.value,
                from_draft=True,
            )
        self.events.publish(Event("reply.queued", {"conversation_id": conversation["id"], "reply_id": reply_id}))

    def discard_draft(self, actor: Actor, reply_id: str) -> None:
        self._require(actor, Role.AGENT)
        with self.db.write() as conn:
            draft = replies.get_reply(conn, reply_id)
            if draft is None or draft["status"] != "draft":
                raise NotFound(f"no draft {reply_id}")
            replies.delete_reply(conn, reply_id)
            self._audit(
                conn, actor, "conversation.discard_draft", "conversation", draft["conversation_id"], reply_id=reply_id
            )
        self._changed(draft["conversation_id"], "replies")

    def _check_reply(self, channel: str, text: str, visibility: Visibility) -> None:
        self._check_channel(channel, text, visibility)
        if visibility == Visibility.PUBLIC:
            self._guard_public(text, channel, self.patterns)

    @staticmethod
    def _check_channel(channel: str, text: str, visibility: Visibility) -> None:
        try:
            limits = connector_class(channel).limits
        except UnknownChannel:
            raise Invalid(f"no connector for {channel} is installed, so no reply can be sent") from None
        if not limits.public_replies and not limits.private_messages:
            raise Invalid(f"{channel} cannot be answered in the channel: it is read-only for us")
        if len(text) > min(limits.max_text_length, REPLY_MAX):
            raise Invalid(f"{channel} allows at most {limits.max_text_length} characters; this reply has {len(text)}")
        if visibility == Visibility.PRIVATE and not limits.private_messages:
            raise Invalid(f"{channel} has no private messages")
        if visibility == Visibility.PUBLIC and not limits.public_replies:
            raise Invalid(f"{channel} has no public replies; answer privately")

    @staticmethod
    def _guard_public(text: str, channel: str, patterns: Sequence[CustomPattern] = ()) -> None:
        from townsquare.triage import find_personal_data

        found = find_personal_data(text, patterns)
        if found:
            raise PersonalDataInPublicReply(sorted({span.kind for span in found}), channel)

    # -- contacts ----------------------------------------------------------------------------

    def update_contact(
        self,
        actor: Actor,
        contact_id: str,
        *,
        display_name: str | None = None,
        customer: dict[str, Any] | None = None,
    ) -> None:
        self._require(actor, Role.AGENT)
        with self.db.write() as conn:
            if contacts.get_contact(conn, contact_id) is None:
                raise NotFound(f"contact {contact_id} not found")
            values: dict[str, Any] = {}
            if display_name is not None:
                values["display_name"] = display_name
            if customer is not None:
                values["customer"] = customer
            contacts.update_contact(conn, contact_id, **values)
            self._audit(conn, actor, "contact.update", "contact", contact_id, fields=sorted(values))
        self.events.publish(Event("contact.updated", {"contact_id": contact_id}))

    def merge_contacts(self, actor: Actor, keep_id: str, merge_id: str) -> None:
        self._require(actor, Role.AGENT)
        if keep_id == merge_id:
            raise Invalid("a contact cannot be merged into itself")
        with self.db.write() as conn:
            try:
                contacts.merge_contacts(conn, keep_id, merge_id)
            except KeyError:
                raise NotFound("both contacts must exist") from None
            self._audit(conn, actor, "contact.merge", "contact", keep_id, merged=merge_id)
        self.events.publish(Event("contact.merged", {"contact_id": keep_id, "merged": merge_id}))

    # -- users, teams, tokens ----------------------------------------------------------------

    def create_user(
        self,
        actor: Actor,
        *,
        email: str,
        name: str,
        role: Role,
        password: str | None,
        team_id: str | None = None,
    ) -> str:
        self._require(actor, Role.ADMIN)
        if password is not None and len(password) < 8:
            raise Invalid("a password has at least 8 characters")
        try:
            with self.db.write() as conn:
                user_id = users.create_user(
                    conn,
                    email=email,
                    name=name,
                    role=role.value,
                    password_hash=hash_password(password) if password else None,
                    team_id=team_id,
                )
                self._audit(conn, actor, "user.create", "user", user_id, email=email.lower(), role=role.value)
        except IntegrityError:
            raise Conflict(f"a user with e-mail {email} exists already") from None
        return user_id

    def update_user(
        self,
        actor: Actor,
        user_id: str,
        *,
        role: Role | None = None,
        active: bool | None = None,
        password: str | None = None,
        team_id: str | None = None,
    ) -> None:
        self._require(actor, Role.ADMIN)
        values: dict[str, Any] = {}
        if role is not None:
            values["role"] = role.value
        if active is not None:
            values["active"] = active
        if team_id is not None:
            values["team_id"] = team_id or None
        if password is not None:
            if len(password) < 8:
                raise Invalid("a password has at least 8 characters")
            values["password_hash"] = hash_password(password)
        with self.db.write() as conn:
            if users.user_by_id(conn, user_id) is None:
                raise NotFound(f"user {user_id} not found")
            users.update_user(conn, user_id, **values)
            self._audit(conn, actor, "user.update", "user", user_id, fields=sorted(values))

    def create_team(self, actor: Actor, name: str) -> str:
        self._require(actor, Role.ADMIN)
        try:
            with self.db.write() as conn:
                team_id = users.create_team(conn, name)
                self._audit(conn, actor, "team.create", "team", team_id, name=name)
        except IntegrityError:
            raise Conflict(f"a team named {name} exists already") from None
        return team_id

    def create_token(self, actor: Actor, user_id: str, name: str) -> tuple[str, str]:
        """Returns (token id, token). The token is shown once and stored only as a digest."""
        self._require(actor, Role.ADMIN)
        token = "tsq_" + secrets.token_urlsafe(32)
        with self.db.write() as conn:
            if users.user_by_id(conn, user_id) is None:
                raise NotFound(f"user {user_id} not found")
            token_id = users.create_token(conn, user_id=user_id, name=name, token_hash=token_digest(token))
            self._audit(conn, actor, "token.create", "user", user_id, token_id=token_id, name=name)
        return token_id, token

    def revoke_token(self, actor: Actor, token_id: str) -> None:
        self._require(actor, Role.ADMIN)
        with self.db.write() as conn:
            if not users.revoke_token(conn, token_id):
                raise NotFound(f"no active token {token_id}")
            self._audit(conn, actor, "token.revoke", "token", token_id)


__all__ = ["SYSTEM", "Actions", "token_digest"]
