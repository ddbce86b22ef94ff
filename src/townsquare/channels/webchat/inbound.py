"""A visitor's message as the pipeline takes it: a private InboundMessage on channel `webchat`."""

from __future__ import annotations

import hashlib
from datetime import datetime

from townsquare.channels.webchat.payloads import MessageRequest
from townsquare.channels.webchat.tokens import Visitor
from townsquare.ids import new_id
from townsquare.model import AuthorIdentity, InboundMessage, Visibility

CHANNEL = "webchat"


def message_external_id(visitor: Visitor, client_id: str | None) -> str:
    """Server-made. With the widget's client id it is derived from it, so a send the browser
    retried after a lost answer is the same message (the pipeline stores it once)."""
    if client_id is None:
        return f"wcm_{new_id()}"
    digest = hashlib.sha256(f"{visitor.external_id}\n{client_id}".encode()).hexdigest()
    return f"wcm_{digest[:32]}"


def visitor_identity(visitor: Visitor) -> AuthorIdentity:
    return AuthorIdentity(
        external_id=visitor.external_id,
        # The e-mail address is the most useful handle an agent can see; without one the
        # visitor id's start tells two anonymous visitors apart.
        handle=visitor.email or f"visitor-{visitor.id[:8]}",
        display_name=visitor.name or "",
    )


def visitor_message(visitor: Visitor, request: MessageRequest, *, external_id: str, now: datetime) -> InboundMessage:
    return InboundMessage(
        channel=CHANNEL,
        account=visitor.account,
        external_id=external_id,
        author=visitor_identity(visitor),
        text=request.text,
        visibility=Visibility.PRIVATE,
        created_at=now,
        raw={
            "visitor": {"id": visitor.id, "name": visitor.name, "email": visitor.email},
            "message": request.model_dump(mode="json"),
        },
    )
