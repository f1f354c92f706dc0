"""Every command and every option of the whole ``scrm`` tree (plugins' commands included) has help."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import click

from scrm.cli import build_cli
from scrm.cli.lazy import BUILTIN_COMMANDS
from scrm.core.plugins import get_plugin_manager


def walk(cmd: click.Command, path: str = "scrm") -> Iterator[tuple[str, click.Command]]:
    """Every command under ``cmd`` (the root's built-ins are loaded on the way)."""
    yield path, cmd
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            assert sub is not None, f"{path} lists {name} but has no such command"
            yield from walk(sub, f"{path} {name}")


def test_every_command_and_option_has_help() -> None:
    cli = build_cli(get_plugin_manager())
    commands = list(walk(cli))
    assert len(commands) > 80, "the tree lost its plugin commands"
    # Commands added through register_commands: by built-in plugins and by installed channels.
    pm = get_plugin_manager()
    from_plugins = {"route", "leads", "ideas", "campaigns", "crises", "support"}
    from_plugins |= {name for name in ("twitter", "facebook", "email") if pm.has_plugin(name)}
    assert isinstance(cli, click.Group)
    assert from_plugins <= set(cli.commands), sorted(from_plugins - set(cli.commands))
    missing = []
    for path, cmd in commands:
        if not (cmd.help or cmd.short_help or "").strip():
            missing.append(f"{path}: no help text")
        for param in cmd.params:
            if isinstance(param, click.Option) and not (param.help or "").strip():
                missing.append(f"{path} {param.opts[-1]}: no help text")
    assert not missing, f"{len(missing)} without help:\n" + "\n".join(missing)


def test_the_lazy_table_of_builtin_commands_agrees_with_their_modules() -> None:
    """`scrm --help` lists built-ins from scrm.cli.lazy without importing them: no drift."""
    cli = build_cli(get_plugin_manager())
    ctx = click.Context(cli)
    for name, (module, first_paragraph) in BUILTIN_COMMANDS.items():
        cmd = cli.get_command(ctx, name)
        assert cmd is not None, f"{name}: scrm.cli.{module} does not register it"
        assert (cmd.callback is not None and cmd.callback.__module__ == f"scrm.cli.{module}") or (
            module == "loop" and name == "case"  # made in cases, extended by loop
        ), f"{name} is not registered by scrm.cli.{module}"
        help_text = inspect.cleandoc(cmd.short_help) if cmd.short_help else (cmd.help or "")
        # The docstring's first paragraph, its line breaks read as spaces (as help shows it).
        assert " ".join(help_text.split("\n\n")[0].split()) == first_paragraph, (
            f"{name}: help changed"
        )
    # Every built-in the modules register is in the table (a new command must be added).
    modules = {module for module, _ in BUILTIN_COMMANDS.values()}
    bare = click.Group()
    for module in sorted(modules, key=lambda m: m != "cases"):
        __import__(f"scrm.cli.{module}", fromlist=["register"]).register(bare)
    assert set(bare.commands) == set(BUILTIN_COMMANDS)


def test_help_lists_every_command_as_the_loaded_tree_does() -> None:
    """The root help from the table equals the help of a tree with every module loaded."""
    lazy = build_cli(get_plugin_manager())
    loaded = build_cli(get_plugin_manager())
    loaded.load_all()  # type: ignore[attr-defined]
    assert click.testing.CliRunner().invoke(lazy, ["--help"]).output == (
        click.testing.CliRunner().invoke(loaded, ["--help"]).output
    )
