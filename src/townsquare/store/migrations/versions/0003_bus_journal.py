"""The bus journal: accepted messages are written here before a webhook is answered, and deleted
once the pipeline has stored them, so a killed process loses nothing it acknowledged.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 02:37:08.477293
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bus_journal",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=512), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bus_journal")),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("bus_journal")
