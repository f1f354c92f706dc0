"""interactions remember where a reply must be given when scrm cannot post there

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07

A blog post, a news article or a forum thread found through a feed cannot be answered by
scrm: ``interactions.answer_url`` keeps the page where the agent answers, ``scrm reply`` is
refused naming it, and ``scrm case answered`` records the answer given there.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(sa.Column("answer_url", sa.String(length=2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.drop_column("answer_url")
