"""A Bluesky post or direct message (with its author's profile) as Townsquare's normalized
message."""

from __future__ import annotations

from typing import Any

from townsquare.channels.bluesky.lexicon import ChatProfile, LoggedMessage, PostView, ProfileDetailed
from townsquare.model import MAX_TEXT_CHARS, AuthorIdentity, InboundMessage, Visibility

TRUNCATED = " […]"
CHAT_PREFIX = "chat:"


def rkey(uri: str) -> str:
    """The record key: the last path segment of an at:// URI."""
    return uri.rstrip("/").rsplit("/", 1)[-1]


def post_url(web_url: str, handle: str, uri: str) -> str:
    return f"{web_url.rstrip('/')}/profile/{handle}/post/{rkey(uri)}"


def chat_id(convo_id: str, message_id: str) -> str:
    """The external id of a direct message, received or sent: `chat:{convoId}:{messageId}`."""
    return f"{CHAT_PREFIX}{convo_id}:{message_id}"


def chat_convo(external_id: str | None) -> str | None:
    """The conversation id in a direct message's external id."""
    if not external_id or not external_id.startswith(CHAT_PREFIX):
        return None
    convo_id, _, message_id = external_id.removeprefix(CHAT_PREFIX).rpartition(":")
    return convo_id if convo_id and message_id else None


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - len(TRUNCATED)] + TRUNCATED


def _language(langs: list[str] | None) -> str | None:
    if not langs:
        return None
    first = langs[0].strip()
    return first if first and len(first) <= 16 else None


def to_message(
    *,
    channel: str,
    account: str,
    post: PostView,
    profile: ProfileDetailed | None,
    reason: str,
    web_url: str,
    raw: dict[str, Any],
) -> InboundMessage:
    record = post.record
    author = post.author
    display_name = (profile.display_name if profile else None) or author.display_name or ""
    handle = author.handle
    quoted = record.embed.quoted_uri() if record.embed else None
    return InboundMessage(
        channel=channel,
        account=account,
        external_id=post.uri,
        author=AuthorIdentity(
            external_id=author.did[:512],
            handle=handle[:512],
            display_name=_cut(display_name, 512),  # stored as written, HTML included; only cut
            reach=profile.followers_count if profile else None,
            url=f"{web_url.rstrip('/')}/profile/{handle}"[:2048],
        ),
        text=_cut(record.text, MAX_TEXT_CHARS),
        language=_language(record.langs),
        visibility=Visibility.PUBLIC,
        in_reply_to=record.reply.parent.uri[:512] if record.reply else None,
        thread_root=record.reply.root.uri[:512] if record.reply else None,
        # indexedAt is the AppView's time (never later than when it saw the post); createdAt is
        # whatever the author's client claims.
        created_at=post.indexed_at,
        url=post_url(web_url, handle, post.uri)[:2048],
        raw={"reason": reason, "quoted": quoted, "post": raw},
    )


def chat_to_message(
    *,
    channel: str,
    account: str,
    convo_id: str,
    message: LoggedMessage,
    profile: ProfileDetailed | None,
    related: list[ChatProfile],
    web_url: str,
    raw: dict[str, Any],
) -> InboundMessage:
    did = message.sender.did
    known = next((p for p in related if p.did == did), None)
    handle = (profile.handle if profile else None) or (known.handle if known else "") or ""
    display_name = (profile.display_name if profile else None) or (known.display_name if known else None) or ""
    base = web_url.rstrip("/")
    return InboundMessage(
        channel=channel,
        account=account,
        external_id=chat_id(convo_id, message.id)[:512],
        author=AuthorIdentity(
            external_id=did[:512],
            handle=handle[:512],
            display_name=_cut(display_name, 512),  # as written, HTML included
            reach=profile.followers_count if profile else None,
            url=f"{base}/profile/{handle or did}"[:2048],
        ),
        text=_cut(message.text or "", MAX_TEXT_CHARS),
        visibility=Visibility.PRIVATE,
        created_at=message.sent_at,
        url=f"{base}/messages/{convo_id}"[:2048],
        raw={"reason": "direct_message", "convo_id": convo_id, "log": raw},
    )
