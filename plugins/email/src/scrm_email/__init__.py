"""E-mail (IMAP and SMTP) channel for scrm (distribution ``scrm-email``, entry point group ``scrm``).

Only hook implementations live here; the channel is in :mod:`scrm_email.channel`, the
``scrm email`` commands in :mod:`scrm_email.cli`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from scrm import hookimpl

if TYPE_CHECKING:
    import click

    from scrm.core.channel import Channel

__all__ = ["register_channels", "register_commands"]


@hookimpl
def register_channels(register: Callable[[type[Channel]], None]) -> None:
    """Register the ``email`` channel."""
    from scrm_email.channel import EmailChannel

    register(EmailChannel)


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``scrm email import`` and ``scrm email poll``."""
    from scrm_email.cli import email_group

    cli.add_command(email_group)
