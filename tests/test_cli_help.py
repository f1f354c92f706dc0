"""Every command and every option of the whole ``scrm`` tree (plugins' commands included) has help."""

from __future__ import annotations

from collections.abc import Iterator

import click

from scrm.cli import build_cli
from scrm.core.plugins import get_plugin_manager


def walk(cmd: click.Command, path: str = "scrm") -> Iterator[tuple[str, click.Command]]:
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
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
