"""open cases by deadline: a partial index for the SLA board on PostgreSQL

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('new', 'acknowledged', 'contacted', 'investigating', 'solution_proposed', 'reopened')"


def upgrade() -> None:
    op.create_index(
        "ix_cases_open_next_due",
        "cases",
        ["next_due", "id"],
        unique=False,
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_cases_open_next_due", table_name="cases")
