"""crisis: engagement observations and crises (the crisis module's own branch)

Revision ID: crisis_0001
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

revision: str = "crisis_0001"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = ("crisis",)
depends_on: str | Sequence[str] | None = None

TABLES = ("engagement_observations", "crises")


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if existing.issuperset(TABLES):
        return  # created by core's revision 0004 before the module had a branch of its own
    op.create_table(
        "engagement_observations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("interaction_id", sa.Integer(), nullable=False),
        sa.Column("observed_at", db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("weighted", sa.Integer(), nullable=False),
        sa.Column("metrics", db.JSONType, nullable=False),
        sa.ForeignKeyConstraint(
            ["interaction_id"],
            ["interactions.id"],
            name=op.f("fk_engagement_observations_interaction_id_interactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_observations")),
    )
    with op.batch_alter_table("engagement_observations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_engagement_observations_interaction_id_observed_at",
            ["interaction_id", "observed_at"],
            unique=False,
        )
    op.create_table(
        "crises",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("interaction_id", sa.Integer(), nullable=True),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("evidence", db.JSONType, nullable=False),
        sa.Column("detected_at", db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_crises_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["interaction_id"],
            ["interactions.id"],
            name=op.f("fk_crises_interaction_id_interactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crises")),
        sa.UniqueConstraint("case_id", name=op.f("uq_crises_case_id")),
    )


def downgrade() -> None:
    op.drop_table("crises")
    with op.batch_alter_table("engagement_observations", schema=None) as batch_op:
        batch_op.drop_index("ix_engagement_observations_interaction_id_observed_at")

    op.drop_table("engagement_observations")
