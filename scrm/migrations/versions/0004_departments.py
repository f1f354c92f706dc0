"""departments: the department modules' tables moved to the modules' own branches

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 13:28:26.664982

This revision used to create the tables of the department modules (campaign links, spike
episodes, leads, ideas, engagement observations, crises, case flags).  Each module now owns
its tables and creates them in an Alembic branch of its own that starts here
(``scrm/plugins/migrations/<module>``, registered through ``register_migrations``).  A
database migrated before the move keeps its tables and rows: each branch's first revision
adopts them.  The revision stays, empty, so that the chain of every existing database holds.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
