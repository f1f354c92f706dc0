"""coordinated: case flags (the coordinated module's own branch)

Revision ID: coordinated_0001
Revises: 0004
Create Date: 2026-12-07

Until 0.x these tables were created by core's revision 0004; a database made then has them
already, with its rows, and this revision adopts them as they are.  A new database gets them
here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from scrm.plugin import db

revision: str = "coordinated_0001"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = ("coordinated",)
depends_on: str | Sequence[str] | None = None

TABLES = ("case_flags",)


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if existing.issuperset(TABLES):
        return  # created by core's revision 0004 before the module had a branch of its own
    op.create_table(
        "case_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("flag", sa.String(length=64), nullable=False),
        sa.Column("group_key", sa.String(length=64), nullable=True),
        sa.Column("evidence", db.JSONType, nullable=False),
        sa.Column("created_at", db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_flags_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_flags")),
        sa.UniqueConstraint("case_id", "flag", name=op.f("uq_case_flags_case_id_flag")),
    )
    with op.batch_alter_table("case_flags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_flags_flag"), ["flag"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_flags_group_key"), ["group_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_flags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_flags_group_key"))
        batch_op.drop_index(batch_op.f("ix_case_flags_flag"))

    op.drop_table("case_flags")
