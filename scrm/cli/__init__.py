"""The ``scrm`` command line: ``build_cli(pm)`` makes the click tree, plugins add to it.

Commands are thin: parse options, call the core, render.  One module per command group.
"""

from __future__ import annotations

import sys

import click

from scrm.cli import admin, cases, customers, ingest, interactions, loop, rejects, textjobs
from scrm.cli.context import CliContext, ScrmGroup, handle_errors
from scrm.core.config import Config, ConfigError, load_config
from scrm.core.plugins import PluginManager, get_plugin_manager

__all__ = ["build_cli", "main"]


def build_cli(pm: PluginManager | None = None, config: Config | None = None) -> click.Group:
    """Build the ``scrm`` command tree with the commands of every plugin in ``pm``."""

    @click.group(cls=ScrmGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False),
        envvar="SCRM_CONFIG",
        help="Configuration file (default: ./scrm.toml).",
    )
    @click.option(
        "--database-url",
        envvar="SCRM_DATABASE_URL",
        help="Database URL; overrides the configuration.",
    )
    @click.version_option(package_name="scrm")
    @click.pass_context
    def cli(ctx: click.Context, config_file: str | None, database_url: str | None) -> None:
        """scrm: listen on every channel, keep one record per customer, and run every
        complaint until the customer is satisfied."""
        ctx.obj = CliContext(
            config_file=config_file, database_url=database_url, pm=pm, config=config
        )

    for module in (admin, ingest, interactions, customers, cases, loop, rejects, textjobs):
        module.register(cli)
    if pm is not None:
        pm.hook.register_commands(cli=cli)
    return cli


def main() -> None:
    try:
        config = load_config()
    except ConfigError:
        config = Config()  # reported when a command needs it
    pm = get_plugin_manager(config, strict=False)
    for error in pm.load_errors:
        click.echo(f"warning: {error}", err=True)
    with handle_errors():
        cli = build_cli(pm, None)
    sys.exit(cli.main(standalone_mode=True))
