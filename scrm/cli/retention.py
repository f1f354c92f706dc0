"""``scrm retention apply``: remove what has outlived the ``[retention]`` periods."""

from __future__ import annotations

import click

from scrm.cli.context import CliContext, emit, table
from scrm.core.retention import apply_retention

__all__ = ["register"]


@click.group("retention")
def group() -> None:
    """Retention of personal data (the [retention] section of the configuration)."""


@group.command("apply")
@click.option("--dry-run", is_flag=True, help="Count what would go; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--actor", default="cli", show_default=True, help="Who did it (recorded in the audit log)."
)
@click.pass_obj
def apply(obj: CliContext, dry_run: bool, as_json: bool, actor: str) -> None:
    """Remove content older than its retention period, per data class, and report counts."""
    app = obj.app()
    with app.session() as s:
        report = apply_retention(s, app.config.retention, dry_run=dry_run, actor=actor)
    if as_json:
        emit(report.as_dict())
        return
    if not report.classes:
        click.echo("no retention period is configured ([retention] in scrm.toml): nothing to do")
        return
    rows = [
        (name, tbl, n)
        for name, counts in report.classes.items()
        for tbl, n in sorted(counts.items())
    ]
    title = "would go (dry run)" if dry_run else "removed"
    obj.console.print(table(title, ["class", "table", "rows"], rows))


def register(cli: click.Group) -> None:
    cli.add_command(group)
