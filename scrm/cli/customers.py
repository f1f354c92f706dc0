"""``scrm customers list/show/merge/unmerge/duplicates/erase/export``."""

from __future__ import annotations

import json
import os

import click

from scrm.cli.context import CliContext, emit, table
from scrm.core import customers as ops
from scrm.core import privacy
from scrm.core.services import customers as customer_service

__all__ = ["register"]


@click.group("customers")
def group() -> None:
    """One record per person, across channels."""


@group.command("list")
@click.option("--search", help="Part of a name, handle, e-mail or phone.")
@click.option("--limit", type=int, default=50, show_default=True, help="At most this many.")
@click.option("--after", type=int, help="Show customers with an id above this (paging).")
@click.option("--include-merged", is_flag=True, help="Also list records merged into others.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_(
    obj: CliContext,
    search: str | None,
    limit: int,
    after: int | None,
    include_merged: bool,
    as_json: bool,
) -> None:
    """List customers."""
    items = obj.app().customers(
        search=search, limit=limit, after=after, include_merged=include_merged
    )
    if as_json:
        emit(items)
        return
    rows = [
        (
            c.id,
            c.display_name,
            c.email,
            c.phone,
            ", ".join(f"{i.channel}:{i.handle or i.external_id}" for i in c.identities),
            c.merged_into_id or "",
        )
        for c in items
    ]
    obj.console.print(
        table("customers", ["id", "name", "email", "phone", "identities", "merged into"], rows)
    )


@group.command("show")
@click.argument("customer_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show(obj: CliContext, customer_id: int, as_json: bool) -> None:
    """Show a customer, their identities on every channel, and their cases."""
    app = obj.app()
    c = app.customer(customer_id)
    cases = app.cases(customer=customer_id, limit=200)
    if as_json:
        emit({**c.model_dump(mode="json"), "cases": [x.model_dump(mode="json") for x in cases]})
        return
    obj.console.print(
        f"[bold]customer {c.id}[/bold] {c.display_name or ''}  email={c.email or '-'} phone={c.phone or '-'}",
        highlight=False,
    )
    if c.merged_into_id:
        obj.console.print(f"merged into customer {c.merged_into_id}")
    if c.merged:
        obj.console.print(f"records merged into this one: {', '.join(map(str, c.merged))}")
    obj.console.print(
        table(
            "identities",
            ["channel", "id", "handle", "name", "email", "followers", "linked by"],
            [
                (
                    i.channel,
                    i.external_id,
                    i.handle,
                    i.display_name,
                    i.email,
                    i.followers,
                    i.linked_by,
                )
                for i in c.identities
            ],
        )
    )
    obj.console.print(
        table(
            "cases",
            ["case", "status", "kind", "category", "channel", "opened"],
            [
                (
                    x.id,
                    x.status,
                    x.kind,
                    x.category,
                    x.channel,
                    obj.time(x.opened_at),
                )
                for x in cases
            ],
            caption=obj.times_caption,
        )
    )


@group.command("merge")
@click.argument("source", type=int)
@click.argument("target", type=int)
@click.option("--reason", help="Why they are the same person (kept in the audit trail).")
@click.option("--actor", default="cli", show_default=True, help="Who is merging.")
@click.pass_obj
def merge(obj: CliContext, source: int, target: int, reason: str | None, actor: str) -> None:
    """Merge customer SOURCE into TARGET (reversible with `scrm customers unmerge SOURCE`)."""
    done = customer_service.merge(obj.app(), source, target, actor=actor, reason=reason)
    click.echo(
        f"merged customer {source} into {done.target_id} (merge {done.merge_id}); undo with: scrm customers unmerge {source}"
    )


@group.command("unmerge")
@click.argument("customer_id", type=int)
@click.option(
    "--actor", default="cli", show_default=True, help="Who did it (recorded in the audit log)."
)
@click.pass_obj
def unmerge(obj: CliContext, customer_id: int, actor: str) -> None:
    """Undo the merge of CUSTOMER_ID."""
    done = customer_service.unmerge(obj.app(), customer_id, actor=actor)
    moved = done.cases_returned
    click.echo(
        f"customer {customer_id} is its own record again"
        + (f"; cases returned to it: {moved}" if moved else "")
    )


@group.command("duplicates")
@click.option(
    "--min-score",
    type=float,
    default=0.6,
    show_default=True,
    help="Only pairs at least this likely to be one person (0 to 1).",
)
@click.option("--limit", type=int, default=50, show_default=True, help="At most this many pairs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def duplicates(obj: CliContext, min_score: float, limit: int, as_json: bool) -> None:
    """Suggest records that are probably the same person, with the evidence; merges nothing."""
    with obj.app().session() as s:
        found = ops.suggest_duplicates(s, min_score=min_score, limit=limit)
    if as_json:
        emit(
            [
                {"a": d.a, "b": d.b, "score": round(d.score, 3), "evidence": d.evidence}
                for d in found
            ]
        )
        return
    obj.console.print(
        table(
            "likely duplicates (merge with: scrm customers merge A B)",
            ["a", "b", "score", "evidence"],
            [(d.a, d.b, f"{d.score:.2f}", "; ".join(d.evidence)) for d in found],
        )
    )


@group.command("erase")
@click.argument("customer_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--actor", default="cli", show_default=True, help="Who asked (kept in the audit log)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def erase(obj: CliContext, customer_id: int, yes: bool, actor: str, as_json: bool) -> None:
    """Erase a person's personal data (KVKK/GDPR), across their whole merge family.

    Names, handles, addresses, message texts, payloads, attachments, notes and replies are
    removed or irreversibly anonymised; counts, times, states and ratings stay for metrics.
    This cannot be undone.
    """
    app = obj.app()
    if not yes:
        click.confirm(
            f"Erase customer {customer_id} and every record merged with it? This cannot be undone",
            abort=True,
        )
    report = customer_service.erase(app, customer_id, actor=actor)
    if as_json:
        emit(report.as_dict())
        return
    click.echo(
        f"erased customer {report.customer_id} (records {', '.join(map(str, report.customers))})"
    )
    obj.console.print(table(None, ["table", "rows"], sorted(report.counts.items())))


@group.command("export")
@click.argument("customer_id", type=int)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to this file (readable by its owner only) instead of standard output.",
)
@click.pass_obj
def export(obj: CliContext, customer_id: int, output: str | None) -> None:
    """Write everything stored about a person (their merge family) as JSON (data portability)."""
    with obj.app().session() as s:
        data = privacy.export_customer(s, customer_id)
    # allow_nan=False: NaN and Infinity are not JSON; the export has none (checked here).
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str, allow_nan=False)
    if output is None:
        click.echo(text)
        return
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    click.echo(f"wrote {output}", err=True)


def register(cli: click.Group) -> None:
    cli.add_command(group)
