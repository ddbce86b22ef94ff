"""The Bluesky (AT Protocol) connector.

Receives: mentions, replies and quotes of the company's account by polling
`app.bsky.notification.listNotifications`, hydrating the posts with `app.bsky.feed.getPosts` and
the authors with `app.bsky.actor.getProfiles`; direct messages to the company by reading the chat
service's log (`chat.bsky.convo.getLog`, see chat.py). Sends: public replies as `app.bsky.feed.post`
records threaded with strong refs to the root and parent, and private messages through the chat
service (`chat.bsky.convo.*`, reached through the PDS's service proxy).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import Field, SecretStr, TypeAdapter, ValidationError

from townsquare.channels.base import (
    ChannelLimits,
    Connector,
    ConnectorSettings,
    DeliveryError,
    PollResult,
)
from townsquare.channels.bluesky import richtext
from townsquare.channels.bluesky.chat import ChatInbox, ReceivedMessage
from townsquare.channels.bluesky.cursor import NotificationCursor
from townsquare.channels.bluesky.lexicon import (
    POST,
    ConvoForMembersOutput,
    CreateRecordInput,
    CreateRecordOutput,
    GetRecordOutput,
    MessageInput,
    MessageView,
    NewPost,
    Notification,
    NotificationPage,
    OutReplyRef,
    OutStrongRef,
    PostsOutput,
    PostView,
    ProfileDetailed,
    ProfilesOutput,
    SendMessageInput,
    UpdateSeenInput,
)
from townsquare.channels.bluesky.normalize import chat_convo, chat_id, chat_to_message, post_url, rkey, to_message
from townsquare.channels.bluesky.xrpc import ScopeRefused, XrpcClient, XrpcError
from townsquare.model import InboundMessage, OutboundReply, SentReceipt, Visibility

log = logging.getLogger(__name__)

REASONS = ("mention", "reply", "quote")
PAGE_SIZE = 100
MAX_PAGES = 20
MAX_BATCH = 100
HYDRATE_BATCH = 25  # getPosts and getProfiles take at most 25 at a time
CHAT_PROXY = "did:web:api.bsky.chat#bsky_chat"

_json_object: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])


class BlueskySettings(ConnectorSettings):
    handle: str = Field(description="The company's handle (e.g. acme.bsky.social) or DID.", min_length=1)
    app_password: SecretStr = Field(
        description="An app password (Settings → Privacy and security → App passwords); allow direct "
        "messages on it to send private replies.",
        json_schema_extra={"secret": True},
    )
    service_url: str = Field(
        default="https://bsky.social", description="The account's PDS or entryway (https://bsky.social for most)."
    )
    web_url: str = Field(default="https://bsky.app", description="Where links to posts and profiles point.")
    chat_proxy: str = Field(default=CHAT_PROXY, description="The chat service's DID and service id for DMs.")
    receive_direct_messages: bool = Field(
        default=True, description="Fetch direct messages sent to the account (needs an app password with DM access)."
    )
    mention_customer: bool = Field(
        default=True, description="Start public replies with @handle (as a mention facet) when it fits."
    )


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class BlueskyConnector(Connector):
    name = "bluesky"
    title = "Bluesky"
    description = "Mentions, replies and quotes on Bluesky (AT Protocol); public replies and direct messages."
    settings_model = BlueskySettings
    limits = ChannelLimits(
        max_text_length=richtext.POST_MAX_GRAPHEMES, public_replies=True, private_messages=True, media=False
    )
    receives: ClassVar[tuple[str, ...]] = ("poll",)
    poll_interval_seconds: ClassVar[float] = 15.0

    settings: BlueskySettings

    def __init__(
        self, account: str, settings: ConnectorSettings, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__(account, settings, transport=transport)
        self.xrpc = XrpcClient(
            self.settings.service_url,
            self.settings.handle,
            self.settings.app_password.get_secret_value(),
            transport=transport,
        )
        self.chat = ChatInbox(self.xrpc, self.settings.chat_proxy)

    # Receiving

    def poll(self, cursor: str | None) -> PollResult:
        position = NotificationCursor.parse(cursor)
        messages, advanced = self._poll_notifications(position)
        if self.settings.receive_direct_messages:
            # After the notifications, and never raising: a chat service that is down or refuses
            # the app password must not hold up mentions and replies.
            chat = self.chat.poll(position.chat, self.xrpc.session().did, MAX_BATCH)
            messages.extend(self._direct_messages(chat.messages))
            advanced = advanced.with_chat(chat.rev)
        if advanced == position:
            return PollResult(messages, cursor)
        return PollResult(messages, advanced.dump())

    def _poll_notifications(self, position: NotificationCursor) -> tuple[list[InboundMessage], NotificationCursor]:
        fresh: dict[str, Notification] = {}
        for notification in self._notifications(position):
            if notification.reason not in REASONS:
                log.debug("ignoring a Bluesky %s notification", notification.reason)
                continue
            if position.is_new(notification.uri, notification.indexed_at):
                # A reply that also mentions us comes as two notifications for one post.
                fresh.setdefault(notification.uri, notification)
        if not fresh:
            return [], position
        batch = sorted(fresh.values(), key=lambda n: n.indexed_at)[:MAX_BATCH]
        messages = self._messages(batch)
        advanced = position.advanced([(n.uri, n.indexed_at) for n in batch])
        self._mark_seen(max(n.indexed_at for n in batch))
        return messages, advanced

    def _notifications(self, position: NotificationCursor) -> Iterable[Notification]:
        """Newest first, back to the cursor's look-back floor (one page on the first poll)."""
        floor = position.floor
        page_cursor: str | None = None
        for _ in range(MAX_PAGES):
            params: dict[str, str | int | bool | list[str]] = {"limit": PAGE_SIZE, "reasons": list(REASONS)}
            if page_cursor:
                params["cursor"] = page_cursor
            page = self.xrpc.query("app.bsky.notification.listNotifications", params, NotificationPage)
            reached_floor = False
            for item in page.notifications:
                try:
                    notification = Notification.model_validate(item)
                except ValidationError as error:
                    log.warning("skipping a malformed Bluesky notification (%d invalid fields)", error.error_count())
                    continue
                reached_floor = reached_floor or (floor is not None and notification.indexed_at < floor)
                yield notification
            if floor is None or reached_floor or not page.cursor or not page.notifications:
                return
            page_cursor = page.cursor
        log.warning("Bluesky notifications go back further than %d pages; older ones are skipped", MAX_PAGES)

    def _messages(self, batch: list[Notification]) -> list[InboundMessage]:
        posts = self._posts([n.uri for n in batch])
        own = self.xrpc.session().did
        profiles = self._profiles(sorted({post.author.did for post, _ in posts.values() if post.author.did != own}))
        messages: list[InboundMessage] = []
        for notification in batch:
            found = posts.get(notification.uri)
            if found is None:
                log.info("a Bluesky post was deleted before it could be fetched; skipping it")
                continue
            post, raw = found
            if post.author.did == own:
                continue  # Our own posts are stored by the outbox when sent.
            try:
                messages.append(
                    to_message(
                        channel=self.name,
                        account=self.account,
                        post=post,
                        profile=profiles.get(post.author.did),
                        reason=notification.reason,
                        web_url=self.settings.web_url,
                        raw=raw,
                    )
                )
            except ValidationError as error:
                log.warning(
                    "skipping a Bluesky post that does not fit a message (%d invalid fields)", error.error_count()
                )
        return messages

    def _direct_messages(self, received: list[ReceivedMessage]) -> list[InboundMessage]:
        profiles = self._profiles(sorted({r.message.sender.did for r in received}))
        messages: list[InboundMessage] = []
        for item in received:
            try:
                messages.append(
                    chat_to_message(
                        channel=self.name,
                        account=self.account,
                        convo_id=item.convo_id,
                        message=item.message,
                        profile=profiles.get(item.message.sender.did),
                        related=item.profiles,
                        web_url=self.settings.web_url,
                        raw=item.raw,
                    )
                )
            except ValidationError as error:
                log.warning(
                    "skipping a Bluesky direct message that does not fit a message (%d invalid fields)",
                    error.error_count(),
                )
        return messages

    def _posts(self, uris: list[str]) -> dict[str, tuple[PostView, dict[str, Any]]]:
        found: dict[str, tuple[PostView, dict[str, Any]]] = {}
        for chunk in _chunks(uris, HYDRATE_BATCH):
            output = self.xrpc.query("app.bsky.feed.getPosts", {"uris": chunk}, PostsOutput)
            for item in output.posts:
                try:
                    post = PostView.model_validate(item)
                    raw = _json_object.validate_python(item)
                except ValidationError as error:
                    log.warning("skipping a malformed Bluesky post (%d invalid fields)", error.error_count())
                    continue
                found[post.uri] = (post, raw)
        return found

    def _profiles(self, dids: list[str]) -> dict[str, ProfileDetailed]:
        found: dict[str, ProfileDetailed] = {}
        for chunk in _chunks(dids, HYDRATE_BATCH):
            try:
                output = self.xrpc.query("app.bsky.actor.getProfiles", {"actors": chunk}, ProfilesOutput)
            except XrpcError as error:
                # Reach is nice to have: messages go on without it.
                log.warning("could not fetch Bluesky profiles: %s", error)
                continue
            for item in output.profiles:
                try:
                    profile = ProfileDetailed.model_validate(item)
                except ValidationError:
                    log.warning("skipping a malformed Bluesky profile")
                    continue
                found[profile.did] = profile
        return found

    def _mark_seen(self, newest: datetime) -> None:
        """Mark notifications read in the official app too; the cursor, not this, decides what
        is fetched, so a failure here only costs a stale unread badge."""
        seen_at = newest.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        try:
            self.xrpc.procedure("app.bsky.notification.updateSeen", UpdateSeenInput(seen_at=seen_at).wire(), None)
        except DeliveryError as error:
            log.info("could not mark Bluesky notifications seen: %s", error)

    # Sending

    def send(self, reply: OutboundReply) -> SentReceipt:
        if reply.visibility == Visibility.PRIVATE:
            return self._send_private(reply)
        return self._send_public(reply)

    def _send_public(self, reply: OutboundReply) -> SentReceipt:
        if not reply.in_reply_to or not reply.in_reply_to.startswith("at://"):
            raise DeliveryError("a public Bluesky reply needs the at:// URI of the post it answers", retryable=False)
        parent = self._posts([reply.in_reply_to]).get(reply.in_reply_to)
        if parent is None:
            raise DeliveryError("the post to answer was deleted or is not visible", retryable=False)
        post = parent[0]
        parent_ref = OutStrongRef(uri=post.uri, cid=post.cid)
        root = post.record.reply.root if post.record.reply else None
        root_ref = OutStrongRef(uri=root.uri, cid=root.cid) if root else parent_ref

        text = reply.text
        handle = reply.recipient.handle if reply.recipient.external_id.startswith("did:") else ""
        if self.settings.mention_customer and handle:
            text = richtext.with_mention(text, handle, richtext.POST_MAX_GRAPHEMES, richtext.POST_MAX_BYTES)
        self._check_length(text, richtext.POST_MAX_GRAPHEMES, richtext.POST_MAX_BYTES)
        facets = richtext.facets(text, handle, reply.recipient.external_id)
        session = self.xrpc.session()
        record = NewPost(
            text=text,
            created_at=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            reply=OutReplyRef(root=root_ref, parent=parent_ref),
            facets=facets or None,
        )
        key = richtext.tid_for_reply(reply.reply_id)
        body = CreateRecordInput(repo=session.did, rkey=key, record=record).wire()
        try:
            created = self.xrpc.procedure("com.atproto.repo.createRecord", body, CreateRecordOutput)
        except DeliveryError as error:
            # A retry of a reply whose first attempt reached the PDS: the record with our key
            # exists (the PDS answers a second create with 500), so that post is the result.
            existing = self._existing_post(session.did, key) if key and error.retryable else None
            if existing is None:
                raise
            created = existing
        assert created is not None  # procedure returns a model when given one
        return SentReceipt(external_id=created.uri, url=post_url(self.settings.web_url, session.handle, created.uri))

    def _existing_post(self, did: str, key: str) -> CreateRecordOutput | None:
        try:
            found = self.xrpc.query(
                "com.atproto.repo.getRecord", {"repo": did, "collection": POST, "rkey": key}, GetRecordOutput
            )
        except DeliveryError:
            return None
        return CreateRecordOutput(uri=found.uri, cid=found.cid or "unknown") if rkey(found.uri) == key else None

    def _send_private(self, reply: OutboundReply) -> SentReceipt:
        did = reply.recipient.external_id
        if not did.startswith("did:"):
            raise DeliveryError("a Bluesky direct message needs the customer's DID", retryable=False)
        self._check_length(reply.text, richtext.MESSAGE_MAX_GRAPHEMES, richtext.MESSAGE_MAX_BYTES)
        proxy = self.settings.chat_proxy
        try:
            convo = self.xrpc.query(
                "chat.bsky.convo.getConvoForMembers", {"members": [did]}, ConvoForMembersOutput, proxy=proxy
            ).convo
        except ScopeRefused as error:
            raise DeliveryError(
                "the Bluesky app password does not allow direct messages; create one with DM access", retryable=False
            ) from error
        except XrpcError as error:
            # MessagesDisabled, NotFollowedBySender, BlockedActor...: the customer does not take
            # DMs from us; retrying will not change that.
            raise DeliveryError(f"Bluesky will not open a conversation: {error.error}", retryable=False) from error
        # A one-to-one conversation is unique per pair, so this is the one the customer wrote in.
        # A DM that came from a group conversation is answered one-to-one, never in the group.
        if (came_from := chat_convo(reply.in_reply_to)) is not None and came_from != convo.id:
            log.info("answering a Bluesky direct message in the one-to-one conversation, not where it was sent")
        message = MessageInput(text=reply.text, facets=richtext.facets(reply.text) or None)
        body = SendMessageInput(convo_id=convo.id, message=message).wire()
        sent = self.xrpc.procedure("chat.bsky.convo.sendMessage", body, MessageView, proxy=proxy)
        assert sent is not None
        return SentReceipt(external_id=chat_id(convo.id, sent.id), created_at=sent.sent_at)

    @staticmethod
    def _check_length(text: str, max_graphemes: int, max_bytes: int) -> None:
        if not text.strip():
            raise DeliveryError("Bluesky does not accept an empty text", retryable=False)
        if not richtext.fits(text, max_graphemes, max_bytes):
            raise DeliveryError(
                f"too long for Bluesky: {richtext.graphemes(text)} of {max_graphemes} characters", retryable=False
            )

    def close(self) -> None:
        self.xrpc.close()
