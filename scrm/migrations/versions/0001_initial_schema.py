"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 12:59:42.830526
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import scrm.core.db

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("attributes", scrm.core.db.JSONType, nullable=False),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("created_at", scrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", scrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["customers.id"],
            name=op.f("fk_customers_merged_into_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    op.create_index(op.f("ix_customers_email"), "customers", ["email"], unique=False)
    op.create_index(
        op.f("ix_customers_merged_into_id"), "customers", ["merged_into_id"], unique=False
    )
    op.create_index(op.f("ix_customers_phone"), "customers", ["phone"], unique=False)

    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", scrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("code", name=op.f("uq_departments_code")),
    )
    op.create_table(
        "plugin_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plugin", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", scrm.core.db.JSONType, nullable=False),
        sa.Column("updated_at", scrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plugin_state")),
        sa.UniqueConstraint("plugin", "key", name=op.f("uq_plugin_state_plugin_key")),
    )
    op.create_table(
        "rejects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("field", sa.String(length=255), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", scrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", scrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejects")),
    )
    op.create_index("ix_rejects_fingerprint", "rejects", ["fingerprint"], unique=False)
    op.create_index(
        "ix_rejects_status_created_at", "rejects", ["status", "created_at"], unique=False
    )

    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("skills", scrm.core.db.JSONType, nullable=False),
        sa.Column("created_at", scrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name=op.f("fk_agents_department_id_departments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("username", name=op.f("uq_agents_username")),
    )
    op.create_index(op.f("ix_agents_department_id"), "agents", ["department_id"], unique=False)

    op.create_table(
        "customer_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("merged_at", scrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("unmerged_at", scrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unmerged_by", sa.String(length=64), nullable=True),
        sa.Column("details", scrm.core.db.JSONType, nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["customers.id"], name=op.f("fk_customer_merges_source_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["customers.id"], name=op.f("fk_customer_merges_target_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_merges")),
    )
    op.create_index(
        op.f("ix_customer_merges_source_id"), "customer_merges", ["source_id"], unique=False
    )
    op.create_index(
        op.f("ix_customer_merges_target_id"), "customer_merges", ["target_id"], unique=False
    )

    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("handle", sa.String(length=255), nullable=True),
        sa.Column("display_name", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("followers", sa.Integer(), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=True),
        sa.Column("account_created_at", scrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("linked_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", scrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", scrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_identities_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identities")),
        sa.UniqueConstraint(
            "channel", "external_id", name=op.f("uq_identities_channel_external_id")
        ),
    )
    op.create_index(op.f("ix_identities_customer_id"), "identities", ["customer_id"], unique=False)
    op.create_index(op.f("ix_identities_email"), "identities", ["email"], unique=False)
    op.create_index(op.f("ix_identities_handle"), "identities", ["handle"], unique=False)
    op.create_index(op.f("ix_identities_phone"), "identities", ["phone"], unique=False)

    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("subject", sa.String(length=255), nullable=True),
        sa.Column("opened_at", scrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_activity_at", scrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("first_response_at", scrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", scrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", scrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sla_policy", sa.String(length=64), nullable=True),
        sa.Column("first_response_due", scrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("follow_up_due", scrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolution_due", scrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_due", scrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", scrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["agents.id"], name=op.f("fk_cases_assignee_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_cases_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name=op.f("fk_cases_department_id_departments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    op.create_index(op.f("ix_cases_assignee_id"), "cases", ["assignee_id"], unique=False)
    op.create_index("ix_cases_customer_id_status", "cases", ["customer_id", "status"], unique=False)
    op.create_index(
        "ix_cases_department_id_status", "cases", ["department_id", "status"], unique=False
    )
    op.create_index("ix_cases_status_next_due", "cases", ["status", "next_due"], unique=False)

    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", scrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_value", sa.String(length=255), nullable=True),
        sa.Column("to_value", sa.String(length=255), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("data", scrm.core.db.JSONType, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    op.create_index("ix_case_events_case_id_at", "case_events", ["case_id", "at"], unique=False)

    op.create_table(
        "interactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=1000), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("created_at", scrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", scrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("thread_key", sa.String(length=255), nullable=True),
        sa.Column("in_reply_to", sa.String(length=255), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("sentiment", sa.String(length=8), nullable=True),
        sa.Column("sentiment_score", sa.Double(), nullable=True),
        sa.Column("urgency", scrm.core.db.JSONType, nullable=False),
        sa.Column("reach", sa.Double(), nullable=True),
        sa.Column("labels", scrm.core.db.JSONType, nullable=False),
        sa.Column("engagement", scrm.core.db.JSONType, nullable=True),
        sa.Column("attachments", scrm.core.db.JSONType, nullable=False),
        sa.Column("raw", scrm.core.db.JSONType, nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_interactions_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_interactions_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["identity_id"], ["identities.id"], name=op.f("fk_interactions_identity_id_identities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interactions")),
        sa.UniqueConstraint(
            "channel", "external_id", name=op.f("uq_interactions_channel_external_id")
        ),
    )
    op.create_index(
        "ix_interactions_case_id_created_at",
        "interactions",
        ["case_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_interactions_channel_thread_key",
        "interactions",
        ["channel", "thread_key"],
        unique=False,
    )
    op.create_index("ix_interactions_created_at", "interactions", ["created_at"], unique=False)
    op.create_index(
        "ix_interactions_customer_id_created_at",
        "interactions",
        ["customer_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_interactions_identity_id"), "interactions", ["identity_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_interactions_identity_id"), table_name="interactions")
    op.drop_index("ix_interactions_customer_id_created_at", table_name="interactions")
    op.drop_index("ix_interactions_created_at", table_name="interactions")
    op.drop_index("ix_interactions_channel_thread_key", table_name="interactions")
    op.drop_index("ix_interactions_case_id_created_at", table_name="interactions")

    op.drop_table("interactions")
    op.drop_index("ix_case_events_case_id_at", table_name="case_events")

    op.drop_table("case_events")
    op.drop_index("ix_cases_status_next_due", table_name="cases")
    op.drop_index("ix_cases_department_id_status", table_name="cases")
    op.drop_index("ix_cases_customer_id_status", table_name="cases")
    op.drop_index(op.f("ix_cases_assignee_id"), table_name="cases")

    op.drop_table("cases")
    op.drop_index(op.f("ix_identities_phone"), table_name="identities")
    op.drop_index(op.f("ix_identities_handle"), table_name="identities")
    op.drop_index(op.f("ix_identities_email"), table_name="identities")
    op.drop_index(op.f("ix_identities_customer_id"), table_name="identities")

    op.drop_table("identities")
    op.drop_index(op.f("ix_customer_merges_target_id"), table_name="customer_merges")
    op.drop_index(op.f("ix_customer_merges_source_id"), table_name="customer_merges")

    op.drop_table("customer_merges")
    op.drop_index(op.f("ix_agents_department_id"), table_name="agents")

    op.drop_table("agents")
    op.drop_index("ix_rejects_status_created_at", table_name="rejects")
    op.drop_index("ix_rejects_fingerprint", table_name="rejects")

    op.drop_table("rejects")
    op.drop_table("plugin_state")
    op.drop_table("departments")
    op.drop_index(op.f("ix_customers_phone"), table_name="customers")
    op.drop_index(op.f("ix_customers_merged_into_id"), table_name="customers")
    op.drop_index(op.f("ix_customers_email"), table_name="customers")

    op.drop_table("customers")
