"""Tables owned by the built-in department modules (marketing, sales, R&D, crisis, review).

They use core's declarative base and core's migrations (revision 0004), so ``scrm db check``
sees them whether or not a department plugin is enabled: the migrations, ``scrm db check``
and erasure (:mod:`scrm.core.redaction`) import this module for that reason.  The core
models do not, so that reading cases loads none of it.  The plugins in ``scrm/plugins/`` own
the logic that fills them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from scrm.core.db import Base, created_ts, intpk, updated_ts
from scrm.core.tenancy import BrandLinked

__all__ = [
    "CampaignLink",
    "CaseFlag",
    "Crisis",
    "EngagementObservation",
    "Idea",
    "IdeaSource",
    "Lead",
    "SpikeEpisode",
]


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


class SpikeEpisode(Base):
    """A run of consecutive anomalous hours for one scope and metric; alerted once, at its start."""

    __tablename__ = "spike_episodes"
    __table_args__ = (sa.UniqueConstraint("scope", "metric", "started_at"),)

    id: Mapped[intpk]
    scope: Mapped[str] = mapped_column(sa.String(160))
    metric: Mapped[str] = mapped_column(sa.String(32))
    started_at: Mapped[datetime]
    last_hour: Mapped[datetime]
    peak_count: Mapped[int]
    baseline: Mapped[float]
    p_value: Mapped[float]
    fired_at: Mapped[created_ts]


class Lead(BrandLinked, Base):
    """A sales opportunity from a customer's purchase intent."""

    __tablename__ = "leads"
    __brand_parent__ = ("customer_id", "customers")
    __table_args__ = (sa.Index("ix_leads_customer_id_status", "customer_id", "status"),)

    id: Mapped[intpk]
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id"))
    interest: Mapped[str] = mapped_column(sa.String(64))
    interaction_id: Mapped[int] = mapped_column(sa.ForeignKey("interactions.id"), index=True)
    """The interaction that created the lead (the first source)."""
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="new")
    owner: Mapped[str | None] = mapped_column(sa.String(64))
    mentions: Mapped[int] = mapped_column(default=1)
    history: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]


class Idea(BrandLinked, Base):
    """A product idea: similar requests in any language joined into one.

    A brand sees the ideas some of its customers' requests joined.
    """

    __tablename__ = "ideas"

    @classmethod
    def brand_criteria(cls, brand: int) -> sa.ColumnElement[bool]:
        sources = sa.table("idea_sources", sa.column("idea_id"), sa.column("interaction_id"))
        messages = sa.table("interactions", sa.column("id"), sa.column("brand_id"))
        return cls.id.in_(
            sa.select(sources.c.idea_id)
            .join(messages, messages.c.id == sources.c.interaction_id)
            .where(messages.c.brand_id == brand)
        )

    id: Mapped[intpk]
    title: Mapped[str] = mapped_column(sa.String(255))
    language: Mapped[str | None] = mapped_column(sa.String(16))
    signature: Mapped[list[Any]] = mapped_column(default=list)
    """Sorted concept tokens of the first request (see :mod:`scrm.plugins.rnd`)."""
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[created_ts]


class IdeaSource(BrandLinked, Base):
    """One request that joined an idea; an interaction joins at most one idea."""

    __tablename__ = "idea_sources"
    __brand_parent__ = ("interaction_id", "interactions")

    id: Mapped[intpk]
    idea_id: Mapped[int] = mapped_column(sa.ForeignKey("ideas.id"), index=True)
    interaction_id: Mapped[int] = mapped_column(sa.ForeignKey("interactions.id"), unique=True)
    customer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("customers.id"))
    similarity: Mapped[float]
    created_at: Mapped[datetime]


class EngagementObservation(BrandLinked, Base):
    """A post's public metrics as seen at one moment; appended on every (re)observation."""

    __tablename__ = "engagement_observations"
    __brand_parent__ = ("interaction_id", "interactions")
    __table_args__ = (
        sa.Index(
            "ix_engagement_observations_interaction_id_observed_at", "interaction_id", "observed_at"
        ),
    )

    id: Mapped[intpk]
    interaction_id: Mapped[int] = mapped_column(sa.ForeignKey("interactions.id"))
    observed_at: Mapped[datetime]
    weighted: Mapped[int]
    """likes + 2·replies + 3·(shares + quotes), the classifier's engagement weight."""
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Crisis(BrandLinked, Base):
    """A case whose virality risk crossed the threshold; detected (and escalated) once."""

    __tablename__ = "crises"
    __brand_parent__ = ("case_id", "cases")

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), unique=True)
    interaction_id: Mapped[int | None] = mapped_column(sa.ForeignKey("interactions.id"))
    score: Mapped[float]
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    detected_at: Mapped[datetime]


class CaseFlag(BrandLinked, Base):
    """A label on a case with its evidence, e.g. ``suspected_coordinated``; never dismisses it."""

    __tablename__ = "case_flags"
    __brand_parent__ = ("case_id", "cases")
    __table_args__ = (sa.UniqueConstraint("case_id", "flag"),)

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    flag: Mapped[str] = mapped_column(sa.String(64), index=True)
    group_key: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    """Cases flagged together (one coordinated burst) share a key."""
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[updated_ts]
