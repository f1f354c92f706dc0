"""agents pick their time zone; failed console sign-ins are counted for the rate limit

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

``agents.timezone`` is the IANA zone the console shows an agent's times in (None: the
configured ``timezone``).  ``signin_failures`` keeps each failed password sign-in for the
rate limit's window, by username and by client address, so every server process sees them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import scrm.core.db

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
    op.create_table(
        "signin_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", scrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signin_failures")),
    )
    with op.batch_alter_table("signin_failures", schema=None) as batch_op:
        batch_op.create_index("ix_signin_failures_address_at", ["address", "at"], unique=False)
        batch_op.create_index("ix_signin_failures_username_at", ["username", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signin_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_signin_failures_username_at")
        batch_op.drop_index("ix_signin_failures_address_at")
    op.drop_table("signin_failures")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("timezone")
