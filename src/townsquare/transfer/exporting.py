"""`townsquare export conversations`: one JSON object per line, each a whole conversation.
`townsquare export labelled`: the agents' corrections of triage as a labelled JSONL file."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TextIO

from townsquare.config import Settings
from townsquare.store import conversations as convs
from townsquare.store import labels
from townsquare.store.db import Database


def _default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot export {type(value).__name__}")


def conversation_document(
    conversation: dict[str, Any], messages: list[dict[str, Any]], notes: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        **conversation,
        "messages": [{k: v for k, v in message.items() if k != "conversation_id"} for message in messages],
        "notes": [{k: v for k, v in note.items() if k != "conversation_id"} for note in notes],
    }


def export_conversations(settings: Settings, stream: TextIO, page_size: int = 200) -> int:
    db = Database(settings.database_url)
    db.migrate()
    count, cursor = 0, None
    while True:
        with db.read() as conn:
            page, cursor = convs.list_conversations(conn, convs.ConversationFilter(), limit=page_size, cursor=cursor)
            for conversation in page:
                document = conversation_document(
                    conversation, convs.messages_of(conn, conversation["id"]), convs.notes_of(conn, conversation["id"])
                )
                stream.write(json.dumps(document, default=_default, ensure_ascii=False) + "\n")
                count += 1
        if cursor is None:
            break
    db.dispose()
    return count


def labelled_record(row: dict[str, Any]) -> dict[str, Any]:
    """One labelled message as a line of the labelled JSONL format that `townsquare train
    --labelled` and `townsquare eval triage` read (`triage.data.from_jsonl_record`): only the
    fields an agent set, so that a head is trained and scored only where someone said the answer."""
    record: dict[str, Any] = {"id": row["message_id"], "text": row["text"]}
    if row["language"]:
        record["language"] = row["language"]
    for name in labels.LABEL_FIELDS:
        if row[name] is not None:
            record[name] = row[name]
    record["source"] = f"townsquare:{row['channel']}"
    record["labelled_at"] = row["labelled_at"]
    return record


def export_labelled(settings: Settings, stream: TextIO) -> int:
    db = Database(settings.database_url)
    db.migrate()
    count = 0
    with db.read() as conn:
        for row in labels.labelled_messages(conn):
            stream.write(json.dumps(labelled_record(row), default=_default, ensure_ascii=False) + "\n")
            count += 1
    db.dispose()
    return count
