"""marketing: spike episodes per brand

Revision ID: marketing_0002
Revises: marketing_0001
Create Date: 2026-12-08

The spike rule counts each brand's messages apart, so an episode belongs to a brand (its
mentions, its campaigns) or to none (a campaign of the deployment, counted over every
brand).  Episodes recorded before counted the deployment as a whole: in a database with one
brand they were that brand's; with several, the brand scope's blended them, and they stay of
no brand, the agency's, as the deployment's campaigns' do.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "marketing_0002"
down_revision: str | Sequence[str] | None = "marketing_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0016"  # the brands table

DEPLOYMENT = "brand_id IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("spike_episodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("brand_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_spike_episodes_brand_id_brands"), "brands", ["brand_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_spike_episodes_brand_id"), ["brand_id"])
        batch_op.drop_constraint(
            batch_op.f("uq_spike_episodes_scope_metric_started_at"), type_="unique"
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_spike_episodes_brand_id_scope_metric_started_at"),
            ["brand_id", "scope", "metric", "started_at"],
        )
    op.create_index(
        "uq_spike_episodes_deployment",
        "spike_episodes",
        ["scope", "metric", "started_at"],
        unique=True,
        postgresql_where=sa.text(DEPLOYMENT),
        sqlite_where=sa.text(DEPLOYMENT),
    )
    op.execute(
        "UPDATE spike_episodes SET brand_id = (SELECT min(id) FROM brands) "
        "WHERE scope = 'brand' AND (SELECT count(*) FROM brands) = 1"
    )


def downgrade() -> None:
    op.drop_index("uq_spike_episodes_deployment", table_name="spike_episodes")
    op.execute("DELETE FROM spike_episodes WHERE brand_id IS NOT NULL AND brand_id <> 1")
    with op.batch_alter_table("spike_episodes", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_spike_episodes_brand_id_scope_metric_started_at"), type_="unique"
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_spike_episodes_scope_metric_started_at"),
            ["scope", "metric", "started_at"],
        )
        batch_op.drop_index(batch_op.f("ix_spike_episodes_brand_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_spike_episodes_brand_id_brands"), type_="foreignkey"
        )
        batch_op.drop_column("brand_id")
