"""The R&D module's tables: product ideas and the requests that joined them (:mod:`scrm.plugins.rnd`).

Imported by the module when it touches the database, and by its migrations (its own
Alembic branch, ``scrm/plugins/migrations/rnd``, registered through ``register_migrations``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from scrm.plugin.db import Base, BrandLinked, created_ts, intpk

__all__ = ["Idea", "IdeaSource"]


class Idea(BrandLinked, Base):
    """A product idea: similar requests in any language joined into one."""

    __tablename__ = "ideas"

    @classmethod
    def brand_criteria(cls, brand: int) -> sa.ColumnElement[bool]:
        """A brand sees the ideas some of its customers' requests joined."""
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
