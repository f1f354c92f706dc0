"""The coordinated-complaints module's table: case flags (:mod:`scrm.plugins.coordinated`).

Imported by the module when it touches the database, and by its migrations (its own
Alembic branch, ``scrm/plugins/migrations/coordinated``, registered through ``register_migrations``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from scrm.plugin.db import Base, BrandLinked, intpk, updated_ts

__all__ = ["CaseFlag"]


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
