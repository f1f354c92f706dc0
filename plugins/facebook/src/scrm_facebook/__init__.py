"""Facebook pages and Messenger channel for scrm (distribution ``scrm-facebook``, entry point group ``scrm``).

Only hook implementations live here: the channel is in :mod:`scrm_facebook.channel`,
webhook parsing in :mod:`scrm_facebook.webhook`, the Graph API client in
:mod:`scrm_facebook.graph`, webhook intake and polling in :mod:`scrm_facebook.sync`.
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
    """Register the ``facebook`` channel."""
    from scrm_facebook.channel import FacebookChannel

    register(FacebookChannel)


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``scrm facebook poll`` and ``scrm facebook check``."""
    from scrm.plugin.cli import add_lazy_command

    def build() -> click.Command:
        from scrm_facebook.cli import facebook

        return facebook

    add_lazy_command(
        cli,
        "facebook",
        "Facebook page comments and Messenger.",
        build,
    )


@hookimpl
def register_routes(router: APIRouter) -> None:
    """Mount ``/webhooks/facebook`` (handshake and signed deliveries) in ``scrm serve``."""
    from scrm_facebook.routes import add_routes

    add_routes(router)


@hookimpl
def register_tasks(register: Callable[..., None]) -> None:
    """Catch up on the page's posts and comments from ``scrm worker`` (webhooks are the main path)."""
    from scrm_facebook.sync import poll_task

    register("poll:facebook", 300.0, poll_task)
