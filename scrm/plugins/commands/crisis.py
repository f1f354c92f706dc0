"""``scrm crises``: the crisis plugin's command, imported by its ``register_commands``.

Kept apart from :mod:`scrm.plugins.crisis` so that an application opened with
:func:`scrm.open` loads no command-line code.
"""

from __future__ import annotations

from typing import Any

import click
import sqlalchemy as sa

from scrm.plugin.cli import CliContext, emit, table
from scrm.plugin.db import OPEN_STATUSES, Case
from scrm.plugins.tables.crisis import Crisis


@click.command("crises")
@click.option(
    "--all", "show_all", is_flag=True, help="Also crises whose case is resolved or closed."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def crises_command(obj: CliContext, show_all: bool, as_json: bool) -> None:
    """List viral crises (open cases by default) with the evidence behind each score."""
    with obj.app().session() as s:
        q = (
            sa.select(Crisis, Case)
            .join(Case, Case.id == Crisis.case_id)
            .order_by(Crisis.detected_at.desc())
        )
        if not show_all:
            q = q.where(Case.status.in_(OPEN_STATUSES))
        out: list[dict[str, Any]] = [
            {
                "case_id": case.id,
                "status": case.status,
                "priority": case.priority,
                "assignee": case.assignee.username if case.assignee else None,
                "score": crisis.score,
                "detected_at": crisis.detected_at,
                "subject": case.subject,
                "evidence": crisis.evidence,
            }
            for crisis, case in s.execute(q)
        ]
    if as_json:
        emit(out)
        return
    rows = []
    for c in out:
        ev = c["evidence"]
        parts = " ".join(f"{k}={v}" for k, v in ev.get("components", {}).items())
        why = (f"{ev.get('followers')} followers, w={ev.get('top_weighted_engagement')}, "
               f"v={ev.get('velocity_per_hour')}/h, {ev.get('customer_posts')} posts, "
               f"{ev.get('others_joined')} joined, media {ev.get('media_posts')}; {parts}")  # fmt: skip
        rows.append((c["case_id"], c["status"], c["priority"], c["assignee"] or "-", c["score"],
                     obj.time(c["detected_at"]), (c["subject"] or "")[:40], why))  # fmt: skip
    cols = ["case", "status", "priority", "owner", "risk", "detected", "subject", "evidence"]
    obj.console.print(table("crises", cols, rows, caption=obj.times_caption))
