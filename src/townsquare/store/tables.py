"""The schema, as SQLAlchemy Core tables. Migrations in `migrations/` build exactly this
(a test compares them), on SQLite and PostgreSQL alike.

Core rather than the ORM: the pipeline writes whole batches with executemany, and every query
stays visible SQL.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Json = JSON().with_variant(JSONB(), "postgresql")
Id = String(26)
Timestamp = DateTime(timezone=True)

app_state = Table(
    "app_state",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

teams = Table(
    "teams",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("created_at", Timestamp, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("team_id", Id, ForeignKey("teams.id", ondelete="SET NULL")),
    Column("password_hash", String(256)),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", Timestamp, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Timestamp, nullable=False),
    Column("last_used_at", Timestamp),
    Column("revoked_at", Timestamp),
)

channel_accounts = Table(
    "channel_accounts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("channel", String(64), nullable=False),
    Column("name", String(128), nullable=False),
    Column("settings", Json, nullable=False),
    Column("status", String(32), nullable=False, default="active"),
    Column("status_detail", Text),
    Column("cursor", Text),
    Column("team_id", Id, ForeignKey("teams.id", ondelete="SET NULL")),
    Column("created_at", Timestamp, nullable=False),
    UniqueConstraint("channel", "name", name="uq_channel_accounts_channel_name"),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("display_name", String(512), nullable=False),
    Column("customer", Json, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
)

identities = Table(
    "identities",
    metadata,
    Column("id", Id, primary_key=True),
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("channel", String(64), nullable=False),
    Column("external_id", String(512), nullable=False),
    Column("handle", String(512), nullable=False),
    Column("display_name", String(512), nullable=False),
    Column("reach", Integer),
    Column("url", String(2048)),
    Column("created_at", Timestamp, nullable=False),
    UniqueConstraint("channel", "external_id", name="uq_identities_channel_external_id"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", Id, primary_key=True),
    Column("channel", String(64), nullable=False),
    Column("account", String(128), nullable=False),
    Column("contact_id", Id, ForeignKey("contacts.id"), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("assignee_id", Id, ForeignKey("users.id", ondelete="SET NULL"), index=True),
    Column("team_id", Id, ForeignKey("teams.id", ondelete="SET NULL"), index=True),
    Column("subject", String(280), nullable=False),
    Column("language", String(16)),
    Column("sentiment", String(16)),
    Column("urgency", Float),
    # Why triage rates the conversation urgent: the `urgency_reasons` of its most urgent post (the
    # first, or a later one that escalated it), for the inbox's glance.
    Column("urgency_reasons", Json),
    Column("has_public", Boolean, nullable=False, default=False),
    Column("has_private", Boolean, nullable=False, default=False),
    Column("personal_data_flag", Boolean, nullable=False, default=False),
    Column("message_count", Integer, nullable=False, default=0),
    Column("first_message_at", Timestamp, nullable=False),
    Column("last_message_at", Timestamp, nullable=False),
    Column("last_inbound_at", Timestamp),
    Column("first_response_due_at", Timestamp),
    Column("resolution_due_at", Timestamp),
    Column("first_responded_at", Timestamp),
    Column("resolved_at", Timestamp),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Index("ix_conversations_status_updated", "status", "updated_at", "id"),
    Index("ix_conversations_last_message", "last_message_at", "id"),
    Index("ix_conversations_contact_channel", "contact_id", "channel", "status"),
)

conversation_tags = Table(
    "conversation_tags",
    metadata,
    Column("conversation_id", Id, ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", String(64), primary_key=True),
    Index("ix_conversation_tags_tag", "tag"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Id, primary_key=True),
    Column("conversation_id", Id, ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("account", String(128), nullable=False),
    Column("external_id", String(512), nullable=False),
    Column("direction", String(16), nullable=False),
    Column("visibility", String(16), nullable=False),
    Column("identity_id", Id, ForeignKey("identities.id"), nullable=True),
    Column("author_name", String(512), nullable=False),
    Column("author_handle", String(512), nullable=False),
    Column("text", Text, nullable=False),
    Column("language", String(16)),
    Column("in_reply_to", String(512)),
    Column("thread_root", String(512)),
    Column("url", String(2048)),
    Column("reach", Integer),
    Column("created_at", Timestamp, nullable=False),
    Column("received_at", Timestamp, nullable=False),
    Column("sentiment", String(16)),
    Column("intent", String(32)),
    Column("urgency", Float),
    Column("triage", Json),
    Column("raw", Json, nullable=False),
    UniqueConstraint("channel", "external_id", name="uq_messages_channel_external_id"),
    Index("ix_messages_conversation_created", "conversation_id", "created_at"),
)

notes = Table(
    "notes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("conversation_id", Id, ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("author_id", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("body", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
)

replies = Table(
    "replies",
    metadata,
    Column("id", Id, primary_key=True),
    Column("conversation_id", Id, ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("author_id", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("in_reply_to_message_id", Id, ForeignKey("messages.id", ondelete="SET NULL")),
    Column("visibility", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Timestamp),
    Column("last_error", Text),
    Column("external_id", String(512)),
    Column("url", String(2048)),
    Column("message_id", Id, ForeignKey("messages.id", ondelete="SET NULL")),
    Column("created_at", Timestamp, nullable=False),
    Column("sent_at", Timestamp),
    Index("ix_replies_status_next", "status", "next_attempt_at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True),
    Column("at", Timestamp, nullable=False, index=True),
    Column("actor_id", Id),
    Column("actor_label", String(320), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target_type", String(32), nullable=False),
    Column("target_id", String(64), nullable=False),
    Column("details", Json, nullable=False),
    Index("ix_audit_log_target", "target_type", "target_id"),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Id, primary_key=True),
    Column("channel", String(64), nullable=False),
    Column("external_id", String(512), nullable=False),
    Column("payload", Json, nullable=False),
    Column("error", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
)

# -- incidents (migration 0002) --------------------------------------------------------------

incidents = Table(
    "incidents",
    metadata,
    Column("id", Id, primary_key=True),
    Column("detector_key", String(64), unique=True),
    Column("title", String(280), nullable=False),
    Column("status", String(16), nullable=False),
    Column("impact", String(16), nullable=False, default="minor"),
    Column("public", Boolean, nullable=False, default=False),
    Column("terms", Json, nullable=False),
    Column("languages", Json, nullable=False),
    Column("channels", Json, nullable=False),
    Column("locations", Json, nullable=False),
    Column("first_message_at", Timestamp, nullable=False),
    Column("detected_at", Timestamp, nullable=False),
    Column("confirmed_at", Timestamp),
    Column("resolved_at", Timestamp),
    Column("merged_into", Id, ForeignKey("incidents.id", ondelete="SET NULL")),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Index("ix_incidents_status_detected", "status", "detected_at"),
)

incident_conversations = Table(
    "incident_conversations",
    metadata,
    Column("incident_id", Id, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
    Column("conversation_id", Id, ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True),
    Column("added_by", String(64), nullable=False),
    Column("added_at", Timestamp, nullable=False),
    Index("ix_incident_conversations_conversation", "conversation_id"),
)

incident_updates = Table(
    "incident_updates",
    metadata,
    Column("id", Id, primary_key=True),
    Column("incident_id", Id, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("body", Text, nullable=False),
    Column("customer_templates", Json, nullable=False),
    Column("author_id", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", Timestamp, nullable=False),
)

status_components = Table(
    "status_components",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text, nullable=False),
    Column("status", String(32), nullable=False),
    Column("position", Integer, nullable=False, default=0),
    Column("updated_at", Timestamp, nullable=False),
)

incident_components = Table(
    "incident_components",
    metadata,
    Column("incident_id", Id, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
    Column("component_id", Id, ForeignKey("status_components.id", ondelete="CASCADE"), primary_key=True),
)

status_posts = Table(
    "status_posts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("incident_update_id", Id, ForeignKey("incident_updates.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("account", String(128), nullable=False),
    Column("text", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Timestamp),
    Column("last_error", Text),
    Column("external_id", String(512)),
    Column("url", String(2048)),
    Column("created_at", Timestamp, nullable=False),
    Column("sent_at", Timestamp),
    Index("ix_status_posts_status_next", "status", "next_attempt_at"),
)

# Mass replies are ordinary replies that remember the incident update they carry.
replies.append_column(
    Column("incident_update_id", Id, ForeignKey("incident_updates.id", ondelete="SET NULL"), index=True)
)

# -- bus journal (migration 0003) -------------------------------------------------------------

# Accepted messages not yet processed by the pipeline: a webhook is answered only after its
# messages are here, and the worker deletes them once stored (or dead-lettered). Rows left by a
# process that died are replayed at the next start. The id is a database sequence, not a
# writer-made id, so replay keeps the exact order of acceptance; AUTOINCREMENT on SQLite keeps an
# id from ever being reused after the journal runs empty.
bus_journal = Table(
    "bus_journal",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("external_id", String(512), nullable=False),
    # `InboundMessage.model_dump_json()`, kept as text: exactly what `model_validate_json` reads back.
    Column("message", Text, nullable=False),
    Column("accepted_at", Timestamp, nullable=False),
    sqlite_autoincrement=True,
)

# What an agent says triage should have answered for an inbound message: the company's own labelled
# history, exported by `townsquare export labelled` for `townsquare train --labelled` and
# `townsquare eval triage`. Kept apart from `messages.triage`, so that the model's answer and the
# correction can both be read (an evaluation needs both). A field left NULL was not corrected.
message_labels = Table(
    "message_labels",
    metadata,
    Column("message_id", Id, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    Column("sentiment", String(16)),
    Column("intents", Json),  # a list, the main intent first
    Column("spam", Boolean),
    Column("needs_reply", Boolean),
    Column("labelled_by", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("labelled_at", Timestamp, nullable=False),
)
