"""The sales module's table: leads (:mod:`scrm.plugins.sales`).

Imported by the module when it touches the database, and by its migrations (its own
Alembic branch, ``scrm/plugins/migrations/sales``, registered through ``register_migrations``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from scrm.plugin.db import Base, BrandLinked, created_ts, intpk, updated_ts

__all__ = ["Lead"]


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
