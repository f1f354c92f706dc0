"""typed domain events in a transactional outbox, and what each consumer handled

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

``event_batches`` holds one row per transaction that wrote domain events, ``events`` the
events in order, ``event_deliveries`` one row per batch and consumer (plugin) that handled
it, written in the consumer's own transaction.  See :mod:`scrm.core.dispatch`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import scrm.core.db

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", scrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", scrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_batches")),
    )
    with op.batch_alter_table("event_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_batches_dispatched_at"), ["dispatched_at"], unique=False
        )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["event_batches.id"],
            name=op.f("fk_events_batch_id_event_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("batch_id", "position", name=op.f("uq_events_batch_id_position")),
    )
    op.create_table(
        "event_deliveries",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("consumer", sa.String(length=128), nullable=False),
        sa.Column("handled_at", scrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["event_batches.id"],
            name=op.f("fk_event_deliveries_batch_id_event_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("batch_id", "consumer", name=op.f("pk_event_deliveries")),
    )


def downgrade() -> None:
    op.drop_table("event_deliveries")
    op.drop_table("events")
    with op.batch_alter_table("event_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_batches_dispatched_at"))
    op.drop_table("event_batches")
