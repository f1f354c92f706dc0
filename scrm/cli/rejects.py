"""``scrm rejects list/show/replay``: records that could not be ingested, kept for replay."""

from __future__ import annotations

import click

from scrm.cli.context import CliContext, emit, table
from scrm.cli.ingest import report_summary

__all__ = ["register"]


@click.group("rejects")
def group() -> None:
    """Records that could not be ingested (nothing is dropped)."""


@group.command("list")
@click.option(
    "--status",
    type=click.Choice(["pending", "replayed", "all"]),
    default="pending",
    show_default=True,
    help="Only rejects in this state.",
)
@click.option("--limit", type=int, default=100, show_default=True, help="At most this many.")
@click.option("--after", type=int, help="Show rejects with an id above this (paging).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_(obj: CliContext, status: str, limit: int, after: int | None, as_json: bool) -> None:
    """List rejected records with where they came from and why."""
    items = obj.app().rejects(status=None if status == "all" else status, limit=limit, after=after)
    if as_json:
        emit(items)
        return
    rows = [
        (
            r.id,
            obj.time(r.created_at),
            r.source,
            r.position,
            r.channel,
            r.field,
            r.reason,
            r.attempts,
            r.status,
        )
        for r in items
    ]
    obj.console.print(
        table(
            "rejects",
            ["id", "at", "source", "line", "channel", "field", "reason", "tries", "status"],
            rows,
            caption=obj.times_caption,
        )
    )


@group.command("show")
@click.argument("reject_id", type=int)
@click.pass_obj
def show(obj: CliContext, reject_id: int) -> None:
    """Show one reject with its payload exactly as received."""
    found = [
        r for r in obj.app().rejects(status=None, after=reject_id - 1, limit=1) if r.id == reject_id
    ]
    if not found:
        raise click.ClickException(f"no reject {reject_id}")
    emit(found[0])


@group.command("replay")
@click.argument("reject_ids", type=int, nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="Replay every pending reject.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def replay(obj: CliContext, reject_ids: tuple[int, ...], replay_all: bool, as_json: bool) -> None:
    """Run rejects through the pipeline again (after fixing a plugin or the data)."""
    if not reject_ids and not replay_all:
        raise click.UsageError("name reject ids or use --all")
    report = obj.app().replay_rejects(None if replay_all else reject_ids)
    if not as_json:
        obj.console.print(f"replayed {report.replayed}")
    report_summary(obj, report, as_json)


def register(cli: click.Group) -> None:
    cli.add_command(group)
