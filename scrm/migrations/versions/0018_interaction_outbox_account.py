"""messages and replies remember the brand's account they arrived at or left from

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07

A channel can hold several accounts of one brand (@acme and @acme_help, support@ and
billing@).  ``interactions.account`` keeps the account a message arrived at (or an outbound
one was sent from), as the channel fills it at ingest; ``outbox.account`` the account a reply
goes out from: the one the customer's latest message arrived at, then the one it left from.
Both are nullable: rows stored before know no account, and their replies keep the rule of
before (the account the case's brand owns on the channel).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("interactions", "outbox")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("account", sa.String(length=255), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("account")
