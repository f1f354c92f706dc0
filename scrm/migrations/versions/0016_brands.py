"""several brands in one deployment: a brands table and brand_id on what belongs to one

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07

``brands`` starts with the default brand (id 1, key ``default``), and every existing
customer, identity, case, message, promise, reply and incident is backfilled to it, so a
single-brand database works unchanged.  Agents, API keys, webhook subscriptions, audit
entries, inbox deliveries and rejects get a nullable ``brand_id``: NULL is the agency,
across brands (existing ones stay so).  The unique rules of identities and messages become
per brand (the same person writing to two brands is two customers), and so do incident
names.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import scrm.core.db

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Tables whose rows belong to exactly one brand (backfilled to the default brand).
OWNED = ("customers", "identities", "cases", "interactions", "incidents", "follow_ups", "outbox")
#: Tables whose rows belong to one brand or, NULL, to the agency across brands.
OPTIONAL = ("agents", "api_keys", "webhook_subscriptions", "audit_log", "inbox", "rejects")
#: Unique rules that become per brand: table -> (old name, columns).
PER_BRAND = {
    "identities": ("uq_identities_channel_external_id", ["channel", "external_id"]),
    "interactions": ("uq_interactions_channel_external_id", ["channel", "external_id"]),
    "incidents": ("uq_incidents_name", ["name"]),
}


def upgrade() -> None:
    brands = op.create_table(
        "brands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("created_at", scrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_brands")),
        sa.UniqueConstraint("key", name=op.f("uq_brands_key")),
    )
    op.bulk_insert(brands, [{"id": 1, "key": "default", "name": "Default", "created_at": datetime.now(UTC)}])
    if op.get_bind().dialect.name == "postgresql":
        # The default brand was inserted with its id; later brands continue after it.
        op.execute("SELECT setval(pg_get_serial_sequence('brands', 'id'), 1)")
    for table in OWNED + OPTIONAL:
        owned = table in OWNED
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column(
                    "brand_id",
                    sa.Integer(),
                    nullable=not owned,
                    server_default="1" if owned else None,
                )
            )
            batch_op.create_index(batch_op.f(f"ix_{table}_brand_id"), ["brand_id"], unique=False)
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_brand_id_brands"), "brands", ["brand_id"], ["id"]
            )
            if table in PER_BRAND:
                old, columns = PER_BRAND[table]
                batch_op.drop_constraint(old, type_="unique")
                batch_op.create_unique_constraint(
                    batch_op.f(f"uq_{table}_brand_id_{'_'.join(columns)}"), ["brand_id", *columns]
                )


def downgrade() -> None:
    for table in reversed(OWNED + OPTIONAL):
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table in PER_BRAND:
                old, columns = PER_BRAND[table]
                batch_op.drop_constraint(
                    f"uq_{table}_brand_id_{'_'.join(columns)}", type_="unique"
                )
                batch_op.create_unique_constraint(old, columns)
            batch_op.drop_constraint(f"fk_{table}_brand_id_brands", type_="foreignkey")
            batch_op.drop_index(f"ix_{table}_brand_id")
            batch_op.drop_column("brand_id")
    op.drop_table("brands")
