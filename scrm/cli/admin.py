"""Administration: ``scrm init``, ``scrm db``, ``scrm plugins``, ``scrm schema``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from scrm.cli.context import CliContext, emit, table
from scrm.core import db
from scrm.core.config import DEFAULT_CONFIG_FILE, starter_config
from scrm.core.plugins import plugin_info
from scrm.core.schemas import InboundInteraction

__all__ = ["register"]


@click.command()
@click.option(
    "--database-url",
    "url",
    default="sqlite:///scrm.db",
    show_default=True,
    help="Database the new configuration points to.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing configuration file.")
@click.pass_obj
def init(obj: CliContext, url: str, force: bool) -> None:
    """Write a commented starter scrm.toml and create the database."""
    path = Path(obj.config_file or DEFAULT_CONFIG_FILE)
    if path.exists() and not force:
        raise click.ClickException(f"{path} exists; use --force to overwrite it")
    path.write_text(starter_config(url), encoding="utf-8")
    os.chmod(path, 0o600)
    obj.config_file = str(path)
    obj.database_url = obj.database_url or url
    app = obj.app(check_schema=False)
    app.upgrade()
    click.echo(
        f"wrote {path} and created the database at {app.engine.url.render_as_string(hide_password=True)}"
    )


@click.group("db")
def db_group() -> None:
    """Database schema: upgrade, check, current."""


@db_group.command()
@click.option("--revision", default="heads", show_default=True, help="Target revision.")
@click.pass_obj
def upgrade(obj: CliContext, revision: str) -> None:
    """Bring the database to the newest schema (safe to run again)."""
    app = obj.app(check_schema=False)
    app.upgrade(revision)
    click.echo(f"database at {', '.join(sorted(db.current_revision(app.engine)))}")


@db_group.command()
@click.pass_obj
def current(obj: CliContext) -> None:
    """Show the database's schema revision and the newest one."""
    app = obj.app(check_schema=False)
    have = ", ".join(sorted(db.current_revision(app.engine))) or "(empty)"
    heads = ", ".join(sorted(db.head_revision(app.migration_locations())))
    click.echo(f"current: {have}\nnewest:  {heads}")


@db_group.command()
@click.pass_obj
def check(obj: CliContext) -> None:
    """Fail unless the database is at the newest revision and matches the models."""
    app = obj.app()
    diff = db.schema_diff(app.engine)
    if diff:
        for d in diff:
            click.echo(f"drift: {d}", err=True)
        raise click.ClickException(
            f"the database schema differs from the models in {len(diff)} ways"
        )
    click.echo("schema is at the newest revision and matches the models")


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def plugins_cmd(obj: CliContext, as_json: bool) -> None:
    """List installed plugins with their version and the hooks they implement."""
    pm = obj.pm or obj.app(check_schema=False).pm
    info = plugin_info(pm)
    if as_json:
        emit(info)
        return
    rows = [(p["name"], p["distribution"], p["version"], ", ".join(p["hooks"])) for p in info]
    obj.console.print(table("plugins", ["name", "distribution", "version", "hooks"], rows))
    for error in pm.load_errors:
        obj.err.print(f"[red]failed:[/red] {error}")


@click.group("schema")
def schema_group() -> None:
    """Print JSON Schemas of scrm's file formats."""


@schema_group.command("interaction")
def schema_interaction() -> None:
    """The JSON Schema of the interchange format (one object per line)."""
    click.echo(json.dumps(InboundInteraction.model_json_schema(), indent=2, ensure_ascii=False))


def register(cli: click.Group) -> None:
    for cmd in (init, db_group, plugins_cmd, schema_group):
        cli.add_command(cmd)
