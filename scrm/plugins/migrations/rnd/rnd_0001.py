"""rnd: ideas and their sources (the rnd module's own branch)

Revision ID: rnd_0001
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

revision: str = "rnd_0001"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = ("rnd",)
depends_on: str | Sequence[str] | None = None

TABLES = ("ideas", "idea_sources")


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if existing.issuperset(TABLES):
        return  # created by core's revision 0004 before the module had a branch of its own
    op.create_table(
        "ideas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("signature", db.JSONType, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_seen", db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ideas")),
    )
    with op.batch_alter_table("ideas", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ideas_last_seen"), ["last_seen"], unique=False)
    op.create_table(
        "idea_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idea_id", sa.Integer(), nullable=False),
        sa.Column("interaction_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("similarity", sa.Double(), nullable=False),
        sa.Column("created_at", db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_idea_sources_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["idea_id"], ["ideas.id"], name=op.f("fk_idea_sources_idea_id_ideas")
        ),
        sa.ForeignKeyConstraint(
            ["interaction_id"],
            ["interactions.id"],
            name=op.f("fk_idea_sources_interaction_id_interactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idea_sources")),
        sa.UniqueConstraint("interaction_id", name=op.f("uq_idea_sources_interaction_id")),
    )
    with op.batch_alter_table("idea_sources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_idea_sources_idea_id"), ["idea_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("idea_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idea_sources_idea_id"))

    op.drop_table("idea_sources")
    with op.batch_alter_table("ideas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ideas_last_seen"))

    op.drop_table("ideas")
