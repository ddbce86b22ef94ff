"""Full-text search over message text: FTS5 on SQLite, tsvector on PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnClause, ColumnElement, Connection, func, literal_column, select, text

from townsquare.store.tables import messages

_TOKEN = re.compile(r"\w+", re.UNICODE)


def fts5_query(user_query: str) -> str:
    """Each word as a quoted FTS5 string, all required: user text never reaches FTS5's syntax."""
    tokens = _TOKEN.findall(user_query)
    return " ".join('"' + token.replace('"', '""') + '"' for token in tokens)


def matching_conversations(conn: Connection, user_query: str) -> ColumnElement[bool] | None:
    """A condition on `conversations.id`, or None when the query has no words at all."""
    from townsquare.store.tables import conversations

    if not _TOKEN.search(user_query):
        return None
    if conn.dialect.name == "sqlite":
        hits = text("SELECT rowid FROM messages_fts WHERE messages_fts MATCH :q").bindparams(q=fts5_query(user_query))
        ids = select(messages.c.conversation_id).where(literal_column("messages.rowid").in_(hits))
    else:
        vector: ColumnClause[Any] = literal_column("messages.search_vector")
        ids = select(messages.c.conversation_id).where(vector.op("@@")(func.websearch_to_tsquery("simple", user_query)))
    return conversations.c.id.in_(ids)
