"""``scrm review``: the coordinated-complaints plugin's command, imported by its ``register_commands``.

Kept apart from :mod:`scrm.plugins.coordinated` so that an application opened with
:func:`scrm.open` loads no command-line code.
"""

from __future__ import annotations

from typing import Any

import click
import sqlalchemy as sa

from scrm.plugin.cli import CliContext, emit, table
from scrm.plugin.db import Case
from scrm.plugins.coordinated import FLAG
from scrm.plugins.tables.coordinated import CaseFlag


@click.command("review")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def review_command(obj: CliContext, as_json: bool) -> None:
    """List cases flagged as suspected coordinated complaints, with the evidence."""
    with obj.app().session() as s:
        rows = s.execute(
            sa.select(CaseFlag, Case).join(Case, Case.id == CaseFlag.case_id)
            .where(CaseFlag.flag == FLAG).order_by(CaseFlag.group_key, Case.id)
        ).all()  # fmt: skip
        out = []
        for flag, case in rows:
            me: dict[str, Any] = next(
                (m for m in flag.evidence.get("members", []) if m["case"] == case.id), {}
            )
            out.append({"case_id": case.id, "status": case.status, "burst": flag.group_key,
                        "handle": me.get("handle"), "reasons": me.get("reasons", []),
                        "accounts": flag.evidence.get("accounts"), "flagged_at": flag.created_at,
                        "subject": case.subject})  # fmt: skip
    if as_json:
        emit(out)
        return
    table_rows = [(o["case_id"], o["status"], o["burst"], o["handle"] or "", ", ".join(o["reasons"]),
                   o["accounts"], obj.time(o["flagged_at"]), (o["subject"] or "")[:50]) for o in out]  # fmt: skip
    cols = ["case", "status", "burst", "account", "why suspicious", "accounts", "flagged", "text"]
    obj.console.print(
        table(
            "suspected coordinated complaints (review; never auto-dismissed)",
            cols,
            table_rows,
            caption=obj.times_caption,
        )
    )
