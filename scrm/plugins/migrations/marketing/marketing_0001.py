"""marketing: campaign links and spike episodes (the marketing module's own branch)

Revision ID: marketing_0001
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

revision: str = "marketing_0001"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = ("marketing",)
depends_on: str | Sequence[str] | None = None

TABLES = ("campaign_links", "spike_episodes")


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if existing.issuperset(TABLES):
        return  # created by core's revision 0004 before the module had a branch of its own
    op.create_table(
        "campaign_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign", sa.String(length=128), nullable=False),
        sa.Column("interaction_id", sa.Integer(), nullable=False),
        sa.Column("matched", sa.String(length=255), nullable=False),
        sa.Column("created_at", db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["interaction_id"],
            ["interactions.id"],
            name=op.f("fk_campaign_links_interaction_id_interactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_links")),
        sa.UniqueConstraint(
            "campaign", "interaction_id", name=op.f("uq_campaign_links_campaign_interaction_id")
        ),
    )
    with op.batch_alter_table("campaign_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaign_links_campaign"), ["campaign"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_campaign_links_interaction_id"), ["interaction_id"], unique=False
        )
    op.create_table(
        "spike_episodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=160), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("started_at", db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_hour", db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("peak_count", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.Double(), nullable=False),
        sa.Column("p_value", sa.Double(), nullable=False),
        sa.Column("fired_at", db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spike_episodes")),
        sa.UniqueConstraint(
            "scope", "metric", "started_at", name=op.f("uq_spike_episodes_scope_metric_started_at")
        ),
    )


def downgrade() -> None:
    op.drop_table("spike_episodes")
    with op.batch_alter_table("campaign_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_links_interaction_id"))
        batch_op.drop_index(batch_op.f("ix_campaign_links_campaign"))

    op.drop_table("campaign_links")
