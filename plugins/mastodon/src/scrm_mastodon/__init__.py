"""Mastodon channel for scrm (distribution ``scrm-mastodon``, entry point group ``scrm``).

Only hook implementations live here: the channel is in :mod:`scrm_mastodon.channel`, the
``scrm mastodon`` commands in :mod:`scrm_mastodon.cli`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from scrm.plugin import hookimpl

if TYPE_CHECKING:
    import click

    from scrm.plugin import Channel


@hookimpl
def register_channels(register: Callable[[type[Channel]], None]) -> None:
    from scrm_mastodon.channel import MastodonChannel

    register(MastodonChannel)


@hookimpl
def register_commands(cli: click.Group) -> None:
    from scrm.plugin.cli import add_lazy_command

    def build() -> click.Command:
        from scrm_mastodon.cli import mastodon

        return mastodon

    add_lazy_command(
        cli,
        "mastodon",
        "Listen on Mastodon: mentions, the brand's own statuses and searches.",
        build,
    )


@hookimpl
def register_tasks(register: Callable[..., None]) -> None:
    """Poll mentions, own statuses and searches from ``scrm worker``."""
    from scrm_mastodon.poller import poll_task

    register("poll:mastodon", 120.0, poll_task)
