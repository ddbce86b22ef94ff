"""The store on SQLite and PostgreSQL: migrations build the declared schema, full-text search,
idempotent ingest, cursor pagination."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.factories import message
from townsquare.pipeline import Pipeline
from townsquare.runtime import Runtime
from townsquare.store import conversations as convs
from townsquare.store.tables import metadata


def _not_full_text_search(obj: object, name: str | None, kind: str, reflected: bool, compare_to: object) -> bool:
    # The search structures are dialect-specific on purpose and live only in the migration.
    return not (name or "").startswith(("messages_fts", "search_vector", "ix_messages_search_vector"))


def test_migrations_build_exactly_the_declared_schema(runtime: Runtime) -> None:
    with runtime.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _not_full_text_search})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_same_message_twice_is_stored_once(runtime: Runtime) -> None:
    first = runtime.pipeline.process([message("m1"), message("m1"), message("m2", author="u2")])
    again = runtime.pipeline.process([message("m1"), message("m2", author="u2")])
    assert (first.stored, first.duplicates) == (2, 1)
    assert (again.stored, again.duplicates) == (0, 2)
    with runtime.db.read() as conn:
        rows, _ = convs.list_conversations(conn, convs.ConversationFilter())
    assert sum(row["message_count"] for row in rows) == 2


def test_same_external_id_on_two_networks_is_two_messages(runtime: Runtime) -> None:
    result = runtime.pipeline.process([message("42", channel="demo"), message("42", channel="mastodon")])
    assert result.stored == 2


def test_full_text_search_finds_words_and_survives_syntax(runtime: Runtime) -> None:
    runtime.pipeline.process(
        [
            message("a", author="u1", text="Mein Router blinkt rot seit gestern"),
            message("b", author="u2", text="Billing question about my invoice"),
        ]
    )
    with runtime.db.read() as conn:
        hits, _ = convs.list_conversations(conn, convs.ConversationFilter(text="router"))
        assert [row["subject"] for row in hits] == ["Mein Router blinkt rot seit gestern"]
        assert len(convs.list_conversations(conn, convs.ConversationFilter(text="invoice billing"))[0]) == 1
        # FTS5 / tsquery syntax in user input is treated as words, never as query syntax.
        for hostile in ['"unbalanced', "NEAR(a b", "*", "router OR 1=1; DROP TABLE messages; --", "' OR ''='"]:
            convs.list_conversations(conn, convs.ConversationFilter(text=hostile))
        assert convs.list_conversations(conn, convs.ConversationFilter(text="nothing-like-this"))[0] == []


def test_cursor_pagination_walks_every_conversation_once(runtime: Runtime) -> None:
    runtime.pipeline.process([message(f"m{i}", author=f"u{i}", minutes=i % 7) for i in range(23)])
    seen: list[str] = []
    cursor = None
    with runtime.db.read() as conn:
        while True:
            page, cursor = convs.list_conversations(conn, convs.ConversationFilter(), limit=5, cursor=cursor)
            seen += [row["id"] for row in page]
            if cursor is None:
                break
    assert len(seen) == len(set(seen)) == 23


def test_a_batch_larger_than_the_batch_size_is_split(runtime: Runtime) -> None:
    runtime.settings.pipeline_batch_size = 7
    pipeline = Pipeline(runtime.db, runtime.settings)
    result = pipeline.process([message(f"m{i}", author=f"u{i % 5}", minutes=i) for i in range(30)])
    assert result.stored == 30
