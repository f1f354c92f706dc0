"""report indexes: a case's public messages from the index, promises by creation time

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26

The metrics report finds, for the period's cases, whether each has a public inbound and a
public outbound message: ``interactions(case_id, created_at)`` gains ``public`` and
``direction`` so that lookup reads the index alone (the index keeps its leading columns,
so a case's timeline still uses it).  Promises made in the period are found through
``follow_ups(created_at)`` instead of a scan of every promise and case.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_interactions_case_id_created_at_public_direction",
        "interactions",
        ["case_id", "created_at", "public", "direction"],
        unique=False,
    )
    op.drop_index("ix_interactions_case_id_created_at", table_name="interactions")
    op.create_index("ix_follow_ups_created_at", "follow_ups", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_follow_ups_created_at", table_name="follow_ups")
    op.create_index(
        "ix_interactions_case_id_created_at",
        "interactions",
        ["case_id", "created_at"],
        unique=False,
    )
    op.drop_index("ix_interactions_case_id_created_at_public_direction", table_name="interactions")
