"""The ``scrm`` command line: ``build_cli(pm)`` makes the click tree, plugins add to it.

Commands are thin: parse options, call the core, render.  One module per command group,
imported when one of its commands runs (see :mod:`scrm.cli.lazy`): start-up stays fast.
"""

from __future__ import annotations

import os
import sys
import warnings

import click

from scrm.cli.context import NO_CONFIG_COMMANDS, CliContext
from scrm.cli.errors import ExitCode
from scrm.cli.lazy import LazyRootGroup
from scrm.core.config import Config, ConfigError, load_config
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


def _early_option(argv: list[str], name: str) -> str | None:
    """Read a root option before click parses the line: plugins are built from the configuration."""
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
        if not arg.startswith("-"):
            break  # options after the subcommand belong to it
    return None


def main() -> None:
    warnings.formatwarning = lambda message, *_args, **_kw: f"warning: {message}\n"
    argv = sys.argv[1:]
    config_file = _early_option(argv, "--config") or os.environ.get("SCRM_CONFIG")
    url = _early_option(argv, "--database-url") or os.environ.get("SCRM_DATABASE_URL")
    debug = "--debug" in argv[: argv.index("--")] if "--" in argv else "--debug" in argv
    config: Config | None
    config_error: ConfigError | None = None
    try:
        config = load_config(config_file, **({"database_url": url} if url else {}))
        pm = get_plugin_manager(strict=False)
    except ConfigError as exc:
        if debug:
            raise
        # Reported by every command but `scrm init`; `scrm --help` still works.
        config, config_error = None, exc
        pm = get_plugin_manager(strict=False)
    for error in pm.load_errors:
        click.echo(f"warning: {error}", err=True)
    cli = build_cli(pm, config, config_error)
    sys.exit(cli.main(standalone_mode=True))
