"""Building messages for tests without repeating every field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from townsquare.model import AuthorIdentity, InboundMessage, Visibility
from townsquare.pipeline.batch import Batch

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def message(
    external_id: str,
    *,
    author: str = "u1",
    text: str = "hello @acme",
    minutes: float = 0,
    in_reply_to: str | None = None,
    private: bool = False,
    channel: str = "demo",
    **extra: Any,
) -> InboundMessage:
    return InboundMessage(
        channel=channel,
        account="acme",
        external_id=external_id,
        author=AuthorIdentity(external_id=author, handle=f"{author}_handle", display_name=f"User {author}"),
        text=text,
        visibility=Visibility.PRIVATE if private else Visibility.PUBLIC,
        in_reply_to=in_reply_to,
        created_at=T0 + timedelta(minutes=minutes),
        **extra,
    )


class Poison:
    """A store stage that fails on messages whose text is "poison", as a bug or a database
    constraint would."""

    name = "poison"

    def process(self, batch: Batch) -> None:
        if any(item.message.text == "poison" for item in batch.active()):
            raise ValueError("cannot handle this one")
