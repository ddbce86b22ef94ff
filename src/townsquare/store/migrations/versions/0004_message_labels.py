"""Agents' corrections of triage, one row per labelled inbound message.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_labels",
        sa.Column("message_id", sa.String(length=26), nullable=False),
        sa.Column("sentiment", sa.String(length=16), nullable=True),
        sa.Column(
            "intents", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column("spam", sa.Boolean(), nullable=True),
        sa.Column("needs_reply", sa.Boolean(), nullable=True),
        sa.Column("labelled_by", sa.String(length=26), nullable=True),
        sa.Column("labelled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_message_labels_message_id_messages"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["labelled_by"], ["users.id"], name=op.f("fk_message_labels_labelled_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_message_labels")),
    )


def downgrade() -> None:
    op.drop_table("message_labels")
