"""Mass response: one text per language, sent to every affected conversation in its own channel,
publicly under the customer's post or privately where they wrote privately, through the outbox."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from townsquare.channels.registry import UnknownChannel, connector_class
from townsquare.model import Visibility
from townsquare.store import incidents as store
from townsquare.store import replies

PLACEHOLDER = re.compile(r"\{(name|handle|status_url|title)\}")


def render(template: str, values: dict[str, str]) -> str:
    """Fill `{name}`, `{handle}`, `{status_url}` and `{title}`; any other braces stay as written,
    so a template can never reach into objects the way str.format would."""
    return PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), template)


def pick_template(templates: dict[str, str], language: str | None, default_language: str) -> str:
    for candidate in (language, (language or "").split("-")[0], default_language):
        if candidate and candidate in templates:
            return templates[candidate]
    return next(iter(templates.values()))


@dataclass(frozen=True)
class Planned:
    conversation_id: str
    message_id: str
    visibility: Visibility
    text: str


def plan_replies(
    rows: Iterable[dict[str, Any]],
    templates: dict[str, str],
    *,
    default_language: str,
    title: str,
    status_url: str,
) -> list[Planned]:
    """Which reply each grouped conversation gets; conversations without a customer message are
    skipped, and text is cut to what the network accepts."""
    planned: list[Planned] = []
    for row in rows:
        if not row.get("message_id"):
            continue
        visibility = Visibility.PRIVATE if row["visibility"] == Visibility.PRIVATE else Visibility.PUBLIC
        max_length = 500
        try:
            limits = connector_class(row["channel"]).limits
            max_length = limits.max_text_length
            if visibility == Visibility.PUBLIC and not limits.public_replies:
                visibility = Visibility.PRIVATE
            if visibility == Visibility.PRIVATE and not limits.private_messages:
                visibility = Visibility.PUBLIC
        except UnknownChannel:
            continue
        handle = row.get("author_handle") or ""
        text = render(
            pick_template(templates, row.get("message_language") or row.get("language"), default_language),
            {
                "name": row.get("contact_name") or handle,
                "handle": f"@{handle}" if handle else "",
                "status_url": status_url,
                "title": title,
            },
        ).strip()
        if len(text) > max_length:
            text = text[: max_length - 1].rstrip() + "…"
        planned.append(Planned(row["id"], row["message_id"], visibility, text))
    return planned


def queue_replies(
    conn: Connection,
    incident_id: str,
    update_id: str,
    templates: dict[str, str],
    *,
    default_language: str,
    title: str,
    status_url: str,
    author_id: str | None,
    conversation_ids: set[str] | None = None,
) -> list[str]:
    """Queue the update's reply for every grouped conversation (or the given ones) that has not
    had it yet; returns the reply ids."""
    done = store.replied_conversations(conn, update_id)
    rows = [
        row
        for row in store.conversations_of_incident(conn, incident_id)
        if row["id"] not in done and (conversation_ids is None or row["id"] in conversation_ids)
    ]
    reply_ids = []
    for plan in plan_replies(rows, templates, default_language=default_language, title=title, status_url=status_url):
        reply_ids.append(
            replies.queue_reply(
                conn,
                conversation_id=plan.conversation_id,
                author_id=author_id,
                in_reply_to_message_id=plan.message_id,
                visibility=plan.visibility.value,
                text=plan.text,
                incident_update_id=update_id,
            )
        )
    return reply_ids
