"""inbox retries: when a received payload that failed is due again

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

A webhook payload whose processing fails is retried with an exponential backoff
(``next_attempt_at``) and, after a few attempts, parked as ``dead`` for an operator to fix
and replay (``scrm inbox retry``).  NULL means due now, so existing rows need no backfill.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import scrm.core.db

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch:
        batch.add_column(
            sa.Column("next_attempt_at", scrm.core.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch:
        batch.drop_column("next_attempt_at")
