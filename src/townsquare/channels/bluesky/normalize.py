"""A Bluesky post (with its author's profile) as Townsquare's normalized message."""

from __future__ import annotations

from typing import Any

from townsquare.channels.bluesky.lexicon import PostView, ProfileDetailed
from townsquare.model import MAX_TEXT_CHARS, AuthorIdentity, InboundMessage, Visibility

TRUNCATED = " […]"


def rkey(uri: str) -> str:
    """The record key: the last path segment of an at:// URI."""
    return uri.rstrip("/").rsplit("/", 1)[-1]


def post_url(web_url: str, handle: str, uri: str) -> str:
    return f"{web_url.rstrip('/')}/profile/{handle}/post/{rkey(uri)}"


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
