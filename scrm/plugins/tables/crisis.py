"""The crisis module's tables: engagement observations and detected crises (:mod:`scrm.plugins.crisis`).

Imported by the module when it touches the database, and by its migrations (its own
Alembic branch, ``scrm/plugins/migrations/crisis``, registered through ``register_migrations``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from scrm.plugin.db import Base, BrandLinked, intpk

__all__ = ["Crisis", "EngagementObservation"]


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
