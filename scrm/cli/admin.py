"""Administration: ``scrm init``, ``scrm config``, ``scrm db``, ``scrm plugins``, ``scrm schema``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from scrm.cli.context import CliContext, emit, table
from scrm.cli.errors import CliError, ExitCode, translate
from scrm.core import db
from scrm.core.app import open_app
from scrm.core.config import DEFAULT_CONFIG_FILE, Config, plain_message, starter_config
from scrm.core.configcheck import masked
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
    """Create the database, then write a commented starter scrm.toml pointing to it.

    Nothing is left behind when the database cannot be created.
    """
    path = Path(obj.config_file or DEFAULT_CONFIG_FILE)
    if path.exists() and not force:
        raise CliError(f"{path} exists; use --force to overwrite it")
    url = obj.database_url or url
    try:
        config = Config(database_url=url)
    except ValidationError as exc:
        reason = plain_message(exc.errors()[0])
        raise CliError(f"invalid --database-url: {reason}", ExitCode.USAGE) from None
    created = _new_sqlite_file(url)
    try:
        with open_app(config=config) as app:
            app.upgrade()
            shown = app.engine.url.render_as_string(hide_password=True)
    except Exception as exc:
        for leftover in created:
            leftover.unlink(missing_ok=True)
        if obj.debug:
            raise
        raise translate(exc, url, "the --database-url option") from None
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(starter_config(url))
    os.chmod(path, 0o600)
    click.echo(f"wrote {path} and created the database at {shown}")


def _new_sqlite_file(url: str) -> list[Path]:
    """The files an SQLite URL would create (none if it exists or is not a file)."""
    parsed = make_url(db.normalize_url(url))
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return []
    file = Path(name)
    return [] if file.exists() else [file, Path(f"{file}-wal"), Path(f"{file}-shm")]


@click.group("config")
def config_group() -> None:
    """The configuration: where it comes from and whether it is valid."""


@config_group.command("check")
@click.pass_obj
def config_check(obj: CliContext) -> None:
    """Validate the configuration and print it as JSON, with secrets masked.

    Every command checks the same before it runs; this one shows what it found. Values of
    keys named like a token, password, secret or key are printed as "***".
    """
    config = obj.config  # the root group has already checked it against the plugins
    click.echo(json.dumps(masked(config), indent=2, ensure_ascii=False))
    source = config.config_file or "no configuration file (defaults and environment)"
    click.echo(f"configuration is valid: {source}", err=True)


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
    diff = app.schema_diff()
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
    for cmd in (init, config_group, db_group, plugins_cmd, schema_group):
        cli.add_command(cmd)
