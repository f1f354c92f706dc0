"""Feeds channel for scrm (distribution ``scrm-feeds``, entry point group ``scrm``).

Blogs, news sites, forum threads, YouTube channels and alert services that publish RSS, Atom
or JSON Feed.  Only hook implementations live here: the channel is in
:mod:`scrm_feeds.channel`, polling in :mod:`scrm_feeds.poller`, ``scrm feeds`` in
:mod:`scrm_feeds.cli`.
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
    from scrm_feeds.channel import FeedsChannel

    register(FeedsChannel)


@hookimpl
def register_commands(cli: click.Group) -> None:
    from scrm.plugin.cli import add_lazy_command

    def build() -> click.Command:
        from scrm_feeds.cli import feeds

        return feeds

    add_lazy_command(
        cli,
        "feeds",
        "Listen on blogs, news sites, forums, YouTube and alert services (RSS, Atom, JSON Feed).",
        build,
    )


@hookimpl
def register_tasks(register: Callable[..., None]) -> None:
    """Poll the sources that are due from ``scrm worker`` (each keeps its own interval)."""
    from scrm_feeds.poller import poll_task

    register("poll:feeds", 60.0, poll_task)
