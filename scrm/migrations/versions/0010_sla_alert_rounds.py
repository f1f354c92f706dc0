"""sla_alerts keyed by deadline round, not due time: a moved deadline does not fire again

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

An alert was unique per (case, clock, due time, kind, level).  A resolution clock paused
after its deadline and resumed gets a new due time, so every pause fired the breach and the
whole ladder again.  The key becomes (case, clock, round, kind, level): ``round`` says which
deadline of the clock it is (0 for the first response and resolution, the earliest pending
promise for follow-up), so a deadline fires once however it moves.
Existing alerts are numbered by their due time within (case, clock), follow-ups by the
promise due then, which keeps them distinct.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch mode rebuilds the table on SQLite (it cannot drop a constraint in place)
    with op.batch_alter_table("sla_alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("round", sa.Integer(), nullable=False, server_default="0"))
        batch_op.drop_constraint("uq_sla_alerts_case_id_clock_due_at_kind_level", type_="unique")
    # Earlier due times of the same clock: 0 for the first deadline, as the sweep numbers it.
    earlier = (
        "(SELECT count(DISTINCT b.due_at) FROM sla_alerts b WHERE b.case_id = sla_alerts.case_id"
        " AND b.clock = sla_alerts.clock AND b.due_at < sla_alerts.due_at)"
    )
    op.execute(f"UPDATE sla_alerts SET round = {earlier} WHERE clock != 'follow_up'")
    # A follow-up deadline is its promise's; negative when the promise is gone (never an id).
    op.execute(
        "UPDATE sla_alerts SET round = coalesce((SELECT min(f.id) FROM follow_ups f"
        " WHERE f.case_id = sla_alerts.case_id AND f.due_at = sla_alerts.due_at),"
        f" -1 - {earlier}) WHERE clock = 'follow_up'"
    )
    with op.batch_alter_table("sla_alerts", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_sla_alerts_case_id_clock_round_kind_level",
            ["case_id", "clock", "round", "kind", "level"],
        )


def downgrade() -> None:
    with op.batch_alter_table("sla_alerts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_sla_alerts_case_id_clock_round_kind_level", type_="unique")
        batch_op.create_unique_constraint(
            "uq_sla_alerts_case_id_clock_due_at_kind_level",
            ["case_id", "clock", "due_at", "kind", "level"],
        )
        batch_op.drop_column("round")
