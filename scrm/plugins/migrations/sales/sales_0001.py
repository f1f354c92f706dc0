"""sales: leads (the sales module's own branch)

Revision ID: sales_0001
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

revision: str = "sales_0001"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = ("sales",)
depends_on: str | Sequence[str] | None = None

TABLES = ("leads",)


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if existing.issuperset(TABLES):
        return  # created by core's revision 0004 before the module had a branch of its own
    op.create_table(
        "leads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("interest", sa.String(length=64), nullable=False),
        sa.Column("interaction_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("mentions", sa.Integer(), nullable=False),
        sa.Column("history", db.JSONType, nullable=False),
        sa.Column("created_at", db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_leads_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_leads_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["interaction_id"],
            ["interactions.id"],
            name=op.f("fk_leads_interaction_id_interactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_leads_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_leads_customer_id_status", ["customer_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_leads_interaction_id"), ["interaction_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leads_interaction_id"))
        batch_op.drop_index("ix_leads_customer_id_status")
        batch_op.drop_index(batch_op.f("ix_leads_case_id"))

    op.drop_table("leads")
