"""``scrm leads``: the sales plugin's commands, imported by its ``register_commands``.

Kept apart from :mod:`scrm.plugins.sales` so that an application opened with
:func:`scrm.open` loads no command-line code.
"""

from __future__ import annotations

from typing import Any

import click
import sqlalchemy as sa

from scrm.plugin import N_, NotFound
from scrm.plugin.cli import CliContext, emit, table
from scrm.plugins.sales import LEAD_STATUSES, _lead_out
from scrm.plugins.tables.sales import Lead


@click.group("leads")
def leads_group() -> None:
    """Sales leads from purchase intent."""


@leads_group.command("list")
@click.option("--status", type=click.Choice(LEAD_STATUSES), help="Only leads in this state.")
@click.option("--owner", help="Only leads of this owner (agent username).")
@click.option("--flagged", is_flag=True, help="Only leads whose customer has an open complaint.")
@click.option("--limit", type=int, default=100, show_default=True, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_(
    obj: CliContext, status: str | None, owner: str | None, flagged: bool, limit: int, as_json: bool
) -> None:
    """List leads, newest first."""
    with obj.app().session() as s:
        q = sa.select(Lead).order_by(Lead.id.desc()).limit(limit)
        if status:
            q = q.where(Lead.status == status)
        if owner:
            q = q.where(Lead.owner == owner)
        items = [_lead_out(s, lead) for lead in s.scalars(q)]
    if flagged:
        items = [i for i in items if i["flag"]]
    if as_json:
        emit(items)
        return
    rows = [
        (i["id"], i["status"], i["interest"], i["customer"] or i["customer_id"], i["owner"] or "-",
         i["mentions"], obj.time(i["created_at"]), i["flag"] or "", (i["source_text"] or "")[:50])
        for i in items
    ]  # fmt: skip
    cols = [
        "lead",
        "status",
        "interest",
        "customer",
        "owner",
        "mentions",
        "created",
        "flag",
        "text",
    ]
    obj.console.print(table("leads", cols, rows))


@leads_group.command("show")
@click.argument("lead_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show(obj: CliContext, lead_id: int, as_json: bool) -> None:
    """Show a lead with its source message, flag and history."""
    with obj.app().session() as s:
        lead = s.get(Lead, lead_id)
        if lead is None:
            raise NotFound(N_("no lead %(id)s"), id=lead_id)
        out = _lead_out(s, lead)
    if as_json:
        emit(out)
        return
    obj.console.print(
        f"[bold]lead {out['id']}[/bold] {out['status']} · {out['interest']} · "
        f"customer {out['customer'] or ''} ({out['customer_id']}) · owner {out['owner'] or '-'}",
        highlight=False,
    )
    if out["flag"]:
        obj.console.print(f"[red]warning:[/red] {out['flag']}", highlight=False)
    obj.console.print(f"source: {out['source_text']}", highlight=False)
    rows = [(h.get("at", ""), h.get("event", ""), h.get("actor", ""), h.get("note", ""))
            for h in out["history"]]  # fmt: skip
    obj.console.print(table("history", ["at", "event", "actor", "note"], rows))


@leads_group.command("update")
@click.argument("lead_id", type=int)
@click.option("--status", type=click.Choice(LEAD_STATUSES), help="Move the lead to this state.")
@click.option("--owner", help="Give the lead to this owner (agent username).")
@click.option("--note", help="Why (recorded in the lead's history).")
@click.option(
    "--actor", default="cli", show_default=True, help="Who did it (recorded in the audit log)."
)
@click.pass_obj
def update(
    obj: CliContext,
    lead_id: int,
    status: str | None,
    owner: str | None,
    note: str | None,
    actor: str,
) -> None:
    """Change a lead's status or owner (every change is kept in its history)."""
    if not (status or owner or note):
        raise click.UsageError("give --status, --owner or --note")
    from scrm.plugin.db import record_audit, utcnow

    with obj.app().session() as s:
        lead = s.get(Lead, lead_id)
        if lead is None:
            raise NotFound(N_("no lead %(id)s"), id=lead_id)
        entry: dict[str, Any] = {"at": utcnow().isoformat(), "event": "update", "actor": actor}
        changes = []
        if status and status != lead.status:
            changes.append(f"status {lead.status} -> {status}")
            lead.status = status
        if owner and owner != lead.owner:
            changes.append(f"owner {lead.owner or '-'} -> {owner}")
            lead.owner = owner
        entry["note"] = "; ".join([*changes, *([note] if note else [])])
        lead.history = [*lead.history, entry]
        record_audit(
            s,
            actor=actor,
            action="lead.update",
            target_type="lead",
            target_id=lead_id,
            details={"status": status, "owner": owner},
        )
    click.echo(f"lead {lead_id}: {entry['note'] or 'no change'}")
