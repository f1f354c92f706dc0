"""The e-mail channel's settings: ``[channels.email]`` in ``scrm.toml`` or ``SCRM_CHANNELS__EMAIL__*``.

Passwords are :class:`~pydantic.SecretStr` (never printed) and may instead be named by an
environment variable (``password_env``), so that ``scrm.toml`` need hold no secret at all.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from scrm.plugin import normalize_email

__all__ = ["AttachmentMode", "MailboxSettings", "SmtpSettings", "TlsMode"]


class TlsMode(StrEnum):
    SSL = "ssl"
    """TLS from the first byte (IMAPS 993, SMTPS 465)."""
    STARTTLS = "starttls"
    """Plain connection upgraded with STARTTLS (IMAP 143, submission 587)."""
    PLAIN = "plain"
    """No encryption at all: for test servers on 127.0.0.1 only."""


class AttachmentMode(StrEnum):
    METADATA = "metadata"
    """Record name, type and size only."""
    DIRECTORY = "directory"
    """Also write the content to ``attachment_dir`` and record its location as the URL."""


class _Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str | None = Field(default=None, description="Login name.")
    password: SecretStr | None = Field(
        default=None, description="Password; prefer password_env so no file holds it."
    )
    password_env: str | None = Field(
        default=None, description="Name of the environment variable holding the password."
    )

    def secret(self) -> str | None:
        """Return the password from the setting or the named environment variable."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ValueError(f"environment variable {self.password_env} is not set")
            return value
        return None


class MailboxSettings(_Credentials):
    """One IMAP folder to read."""

    name: str | None = Field(
        default=None,
        description="Key of this mailbox's cursor and its name on the CLI; default user@host/folder.",
    )
    host: str = Field(description="IMAP server host name.")
    port: int | None = Field(
        default=None, ge=1, le=65535, description="Default 993 for ssl, 143 otherwise."
    )
    tls: TlsMode = Field(default=TlsMode.SSL, description="ssl, starttls, or plain (tests only).")
    username: str = Field(description="Login name.")
    folder: str = Field(default="INBOX", description="Folder to read.")
    address: str | None = Field(
        default=None,
        description="The brand's address mail in this folder was delivered to: its messages' "
        "account (what [brands.<key>] accounts lists); default the username when it is an "
        "address.",
    )
    idle: bool = Field(
        default=True, description="Use IMAP IDLE in `scrm email poll --watch` when offered."
    )
    timeout: float = Field(default=60.0, gt=0, description="Network timeout in seconds.")

    @model_validator(mode="after")
    def _normalise(self) -> MailboxSettings:
        if self.address:
            self.address = normalize_email(self.address)
        return self

    @property
    def key(self) -> str:
        return self.name or f"{self.username}@{self.host}/{self.folder}"

    @property
    def account(self) -> str | None:
        """The address this folder receives: ``address``, else the username if it is one."""
        if self.address:
            return self.address
        try:
            return normalize_email(self.username)
        except ValueError:  # a login name that is not an address
            return None

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.tls is TlsMode.SSL else 143)


class SmtpSettings(_Credentials):
    """The server replies are sent through."""

    host: str = Field(description="SMTP server host name.")
    port: int | None = Field(
        default=None, ge=1, le=65535, description="Default 465 for ssl, 587 for starttls, 25 plain."
    )
    tls: TlsMode = Field(default=TlsMode.STARTTLS, description="ssl, starttls, or plain (tests).")
    from_address: str = Field(description="Address replies come from, e.g. destek@acme.com.tr.")
    from_name: str | None = Field(default=None, description="Display name of the sender.")
    reply_to: str | None = Field(default=None, description="Reply-To address, if different.")
    domain: str | None = Field(
        default=None,
        description="Right-hand side of generated Message-IDs; default the from_address domain.",
    )
    timeout: float = Field(default=60.0, gt=0, description="Network timeout in seconds.")

    @model_validator(mode="after")
    def _normalise(self) -> SmtpSettings:
        self.from_address = normalize_email(self.from_address)
        if self.reply_to:
            self.reply_to = normalize_email(self.reply_to)
        return self

    @property
    def effective_port(self) -> int:
        return self.port or {TlsMode.SSL: 465, TlsMode.STARTTLS: 587, TlsMode.PLAIN: 25}[self.tls]

    @property
    def msgid_domain(self) -> str:
        return self.domain or self.from_address.rpartition("@")[2]


def resolve_dir(path: str | None) -> Path | None:
    """Return ``path`` as a Path with ``~`` expanded, or None."""
    return Path(path).expanduser() if path else None
