"""metrics indexes: cases by opening and by resolution time

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 14:00:00

The metrics report selects "cases opened in the period" and "cases open at the end of the
period" (resolved_at NULL or later); without these indexes both scan every case.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_opened_at", ["opened_at"], unique=False)
        batch_op.create_index("ix_cases_resolved_at", ["resolved_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_resolved_at")
        batch_op.drop_index("ix_cases_opened_at")
