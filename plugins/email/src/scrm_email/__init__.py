"""E-mail (IMAP and SMTP) channel for scrm (distribution ``scrm-email``, entry point group ``scrm``).

Only hook implementations live here; the channel is in :mod:`scrm_email.channel`, the
``scrm email`` commands in :mod:`scrm_email.cli`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from scrm.plugin import hookimpl

if TYPE_CHECKING:
    import click

    from scrm.plugin import Channel

__all__ = ["erase_customer_data", "register_channels", "register_commands"]


@hookimpl
def register_channels(register: Callable[[type[Channel]], None]) -> None:
    """Register the ``email`` channel."""
    from scrm_email.channel import EmailChannel

    register(EmailChannel)


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``scrm email import`` and ``scrm email poll``."""
    from scrm.plugin.cli import add_lazy_command

    def build() -> click.Command:
        from scrm_email.cli import email_group

        return email_group

    add_lazy_command(
        cli,
        "email",
        "Read e-mail: import .eml/mbox/Maildir files, poll IMAP mailboxes.",
        build,
    )


_STORED = re.compile(r"^[0-9a-f]{64}(\.[a-z0-9]{1,9})?$")


@hookimpl
def erase_customer_data(attachments: list[tuple[str, str]]) -> None:
    """Delete the attachment files directory mode stored for an erased person.

    Only files this plugin wrote are touched: a ``file:`` URL of an ``email`` attachment whose
    name is the SHA-256 of its content, in a folder named after the hash's first two digits.
    """
    for channel, url in attachments:
        parsed = urlparse(url)
        if channel != "email" or parsed.scheme != "file":
            continue
        path = Path(unquote(parsed.path))
        digest = path.name.split(".", 1)[0]
        if not _STORED.match(path.name) or path.parent.name != digest[:2] or not path.is_file():
            continue
        if hashlib.sha256(path.read_bytes()).hexdigest() == digest:
            path.unlink(missing_ok=True)


@hookimpl
def register_tasks(register: Callable[..., None]) -> None:
    """Poll every configured mailbox from ``scrm worker`` (one worker per mailbox at a time)."""
    from scrm_email.cli import poll_task

    register("poll:email", 60.0, poll_task)
