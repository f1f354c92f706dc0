"""rejects keep the bytes as received when the text form cannot hold them

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

A line that is not UTF-8, or holds a NUL or a lone surrogate, cannot be stored as text on
PostgreSQL (and not as valid UTF-8 on SQLite): ``rejects.payload`` then holds a readable
copy with U+FFFD in place of each bad character, and ``payload_bytes`` the exact bytes, which
``scrm rejects replay`` reads.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rejects") as batch:
        batch.add_column(sa.Column("payload_bytes", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rejects") as batch:
        batch.drop_column("payload_bytes")
