"""The ``scrm`` command line: ``build_cli(pm)`` makes the click tree, plugins add to it.

Commands are thin: parse options, call the core, render.  One module per command group,
imported when one of its commands runs (see :mod:`scrm.cli.lazy`): start-up stays fast.
"""

from __future__ import annotations

import sys
import warnings

import click

from scrm.cli.context import NO_CONFIG_COMMANDS, CliContext
from scrm.cli.errors import ExitCode
from scrm.cli.lazy import LazyRootGroup
from scrm.core.config import Config, ConfigError
from scrm.core.plugins import PluginManager, get_plugin_manager

__all__ = ["ExitCode", "build_cli", "main"]


def build_cli(
    pm: PluginManager | None = None,
    config: Config | None = None,
    config_error: ConfigError | None = None,
) -> click.Group:
    """Build the ``scrm`` command tree with the commands of every plugin in ``pm``.

    :param config_error: why the configuration could not be loaded; every command but
        ``init`` (and ``--help``) stops with it.
    """

    @click.group(cls=LazyRootGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
    @click.option(
        "--brand",
        envvar="SCRM_BRAND",
        metavar="KEY",
        help="Act for one brand ([brands.KEY]): see and change only its data. "
        "Default: across brands, as the agency's administrator.",
    )
    @click.option(
        "--debug", is_flag=True, help="Show the full traceback of an error instead of one line."
    )
    @click.version_option(package_name="scrm")
    @click.pass_context
    def cli(
        ctx: click.Context,
        config_file: str | None,
        database_url: str | None,
        brand: str | None,
        debug: bool,
    ) -> None:
        """scrm: listen on every channel, keep one record per customer, and run every
        complaint until the customer is satisfied."""
        obj = CliContext(
            config_file=config_file,
            database_url=database_url,
            pm=pm,
            config=config,
            debug=debug,
            config_error=config_error,
            brand=brand,
        )
        ctx.obj = obj
        if ctx.invoked_subcommand not in NO_CONFIG_COMMANDS and not ctx.meta.get("scrm.help"):
            obj.check_config()  # before anything runs: nothing is silently left out

    # Built-in commands are imported when used (scrm.cli.lazy); plugins add theirs here.
    if pm is not None:
        pm.hook.register_commands(cli=cli)
    return cli


def main() -> None:
    warnings.formatwarning = lambda message, *_args, **_kw: f"warning: {message}\n"
    # Plugins do not depend on the configuration: the command that runs reads it
    # (CliContext.config), so `scrm --help` and `scrm init` work with a broken one.
    pm = get_plugin_manager(strict=False)
    for error in pm.load_errors:
        click.echo(f"warning: {error}", err=True)
    sys.exit(build_cli(pm).main(standalone_mode=True))
