"""Twitter/X channel for scrm (distribution ``scrm-twitter``, entry point group ``scrm``).

Only hook implementations live here: the channel is in :mod:`scrm_twitter.channel`, the
``scrm twitter`` commands in :mod:`scrm_twitter.cli`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from scrm.plugin import hookimpl

if TYPE_CHECKING:
    import click
    from fastapi import APIRouter

    from scrm.plugin import Channel


@hookimpl
def register_channels(register: Callable[[type[Channel]], None]) -> None:
    from scrm_twitter.channel import TwitterChannel

    register(TwitterChannel)


@hookimpl
def register_commands(cli: click.Group) -> None:
    from scrm.plugin.cli import add_lazy_command

    def build() -> click.Command:
        from scrm_twitter.cli import twitter

        return twitter

    add_lazy_command(
        cli,
        "twitter",
        "Listen on X (Twitter): mentions, search queries and DMs, within a request budget.",
        build,
    )


@hookimpl
def register_routes(router: APIRouter) -> None:
    """Mount ``/webhooks/twitter`` (CRC check and signed deliveries) in ``scrm serve``."""
    from scrm_twitter.routes import add_routes

    add_routes(router)


@hookimpl
def register_tasks(register: Callable[..., None]) -> None:
    """Poll mentions, searches and DMs from ``scrm worker`` (one worker at a time: one budget)."""
    from scrm_twitter.poller import poll_task

    register("poll:twitter", 60.0, poll_task)
