"""agents acknowledge alerts in the console; alert events are found by type; agent passwords

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

``alert_acks`` records who acknowledged a crisis, spike or coordinated-burst event (the
console's alert feed), and ``ix_events_type_id`` lets the feed read those few event types,
newest first, without scanning every stored event.  ``agents.password_hash`` holds the
salted hash of an agent's console password (``scrm agents password``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import scrm.core.db

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_hash", sa.String(length=255), nullable=True))
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_type_id", ["type", "id"], unique=False)
    op.create_table(
        "alert_acks",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", scrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_alert_acks_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_alert_acks")),
    )


def downgrade() -> None:
    op.drop_table("alert_acks")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_type_id")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("password_hash")
