"""The marketing module's tables: campaign links and spike episodes (:mod:`scrm.plugins.marketing`).

Imported by the module when it touches the database, and by its migrations (its own
Alembic branch, ``scrm/plugins/migrations/marketing``, registered through ``register_migrations``).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from scrm.plugin.db import Base, BrandLinked, BrandOptional, created_ts, intpk

__all__ = ["CampaignLink", "SpikeEpisode"]


class CampaignLink(BrandLinked, Base):
    """An interaction that matched a campaign's hashtags or keywords."""

    __tablename__ = "campaign_links"
    __brand_parent__ = ("interaction_id", "interactions")
    __table_args__ = (sa.UniqueConstraint("campaign", "interaction_id"),)

    id: Mapped[intpk]
    campaign: Mapped[str] = mapped_column(sa.String(128), index=True)
    interaction_id: Mapped[int] = mapped_column(sa.ForeignKey("interactions.id"), index=True)
    matched: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[created_ts]


class SpikeEpisode(BrandOptional, Base):
    """A run of consecutive anomalous hours for one scope and metric; alerted once, at its start.

    It is its brand's (a brand's mentions, a brand's campaign), or of no brand: a campaign of
    the deployment, counted over every brand's messages, which the agency sees.
    """

    __tablename__ = "spike_episodes"
    __table_args__ = (
        sa.UniqueConstraint("brand_id", "scope", "metric", "started_at"),
        # NULLs are distinct in a unique constraint: the deployment's own need an index.
        sa.Index(
            "uq_spike_episodes_deployment",
            "scope",
            "metric",
            "started_at",
            unique=True,
            postgresql_where=sa.text("brand_id IS NULL"),
            sqlite_where=sa.text("brand_id IS NULL"),
        ),
    )

    id: Mapped[intpk]
    scope: Mapped[str] = mapped_column(sa.String(160))
    metric: Mapped[str] = mapped_column(sa.String(32))
    started_at: Mapped[datetime]
    last_hour: Mapped[datetime]
    peak_count: Mapped[int]
    baseline: Mapped[float]
    p_value: Mapped[float]
    fired_at: Mapped[created_ts]
