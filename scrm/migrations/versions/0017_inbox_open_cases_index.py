"""the console inbox: a narrow partial index of open cases that counts every view

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

The inbox counts its six views (all open, mine, unassigned, breaching, waiting, triage) in
one pass over the open cases in the viewer's scope.  ``ix_cases_open_inbox`` holds exactly
what that pass reads (department, next deadline, assignee, waiting since, brand, status) for
open cases only, so the count reads this index alone instead of every row of the table; its
leading ``(department_id, next_due)`` also lists one department's cases (triage, an agent's
department) in deadline order.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('new', 'acknowledged', 'contacted', 'investigating', 'solution_proposed', 'reopened')"


def upgrade() -> None:
    op.create_index(
        "ix_cases_open_inbox",
        "cases",
        ["department_id", "next_due", "assignee_id", "waiting_since", "brand_id", "status"],
        unique=False,
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_cases_open_inbox", table_name="cases")
