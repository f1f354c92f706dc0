"""The e-mail channel: IMAP mailboxes in, SMTP replies out.

Configure it under ``[channels.email]``::

    addresses = ["destek@acme.com.tr"]          # mail From these is the brand's own (outbound)

    [[channels.email.mailboxes]]
    host = "imap.acme.com.tr"
    username = "destek@acme.com.tr"
    password_env = "SCRM_IMAP_PASSWORD"

    [channels.email.smtp]
    host = "smtp.acme.com.tr"
    username = "destek@acme.com.tr"
    password_env = "SCRM_SMTP_PASSWORD"
    from_address = "destek@acme.com.tr"
    from_name = "Acme Müşteri Hizmetleri"

A message's ``account`` is the brand's address it was delivered to: the polled mailbox's
``address`` (default its username), else the first of the brand's addresses among
Delivered-To, X-Original-To, To and Cc.  Brands with mailboxes of their own are
``[channels.email.accounts.<label>]`` tables, each with its ``mailboxes``, ``addresses`` and
``smtp``: a reply goes out through the SMTP settings of the account the customer wrote to
(when its case's brand owns it; else the brand's account), From the address the customer
wrote to when it is one of that account's addresses, else From ``smtp.from_address``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from scrm.plugin import (
    Channel,
    InboundInteraction,
    OutboundMessage,
    PermanentSendError,
    SendResult,
    normalize_email,
)
from scrm_email.settings import AttachmentMode, MailboxSettings, SmtpSettings

if TYPE_CHECKING:
    from scrm_email.mime import Part
    from scrm_email.parse import AttachmentSink

__all__ = ["EmailChannel"]

log = logging.getLogger(__name__)


class EmailChannel(Channel):
    """E-mail read from IMAP mailboxes (or imported from .eml, mbox, Maildir) and sent over SMTP."""

    name = "email"
    social = False

    class Settings(Channel.Settings):
        mailboxes: list[MailboxSettings] = Field(
            default_factory=list, description="IMAP folders `scrm email poll` reads."
        )
        smtp: SmtpSettings | None = Field(default=None, description="Where replies are sent.")
        addresses: list[str] = Field(
            default_factory=list,
            description="The brand's own addresses: mail From them is recorded as outbound "
            "(smtp.from_address counts too).",
        )
        attachments: AttachmentMode = Field(
            default=AttachmentMode.METADATA,
            description="metadata: record name, type and size; directory: also store the "
            "content under attachment_dir.",
        )
        attachment_dir: str | None = Field(
            default=None, description="Where attachment content goes in directory mode."
        )
        poll_interval: float = Field(
            default=60.0, gt=0, description="Seconds between polls in --watch without IDLE."
        )
        idle_timeout: float = Field(
            default=25 * 60.0,
            gt=0,
            le=29 * 60.0,
            description="Seconds before IDLE is re-issued (RFC 2177: under 29 minutes).",
        )
        fetch_batch: int = Field(
            default=100, ge=1, le=10_000, description="Messages fetched and ingested at once."
        )

        @model_validator(mode="after")
        def _check(self) -> EmailChannel.Settings:
            self.addresses = [normalize_email(a) for a in self.addresses]
            if self.attachments is AttachmentMode.DIRECTORY and not self.attachment_dir:
                raise ValueError("attachments = 'directory' needs attachment_dir")
            keys = [m.key for m in self.mailboxes]
            if len(keys) != len(set(keys)):
                raise ValueError("two mailboxes have the same name; give them distinct names")
            return self

    settings: Settings

    def own_addresses(self) -> frozenset[str]:
        """Return the brand's addresses: ``addresses``, the mailboxes' and the SMTP sender."""
        return frozenset(self.account_ids())

    def account_ids(self) -> tuple[str, ...]:
        """The addresses of this account (its mailboxes', ``addresses``, the SMTP sender):
        what its messages carry in ``account`` and ``[brands.<key>] accounts`` lists."""
        s = self.settings
        found = [m.account for m in s.mailboxes if m.account]
        found += s.addresses + ([s.smtp.from_address] if s.smtp is not None else [])
        return tuple(dict.fromkeys(found))

    def mailboxes(self, accounts: Sequence[EmailChannel] | None = None) -> list[MailboxSettings]:
        """Every account's mailboxes (of ``accounts``, default all), in their order.

        :raises ValueError: when two accounts have a mailbox of the same name (one cursor).
        """
        accounts = self.accounts() if accounts is None else accounts
        boxes = [box for account in accounts for box in account.settings.mailboxes]
        keys = [box.key for box in boxes]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"two accounts have mailbox {dupes[0]!r}; give them distinct names")
        return boxes

    def parse(self, payload: Any) -> Iterator[InboundInteraction]:
        """Yield the interaction of one message: ``{"raw_base64": ...}`` or raw bytes.

        A polled message is read by the account whose mailbox received it; an imported one
        with every account's addresses as the brand's.

        :raises ParseError: when the payload or the message is unusable, naming the field.
        """
        from scrm_email.parse import parse_message, raw_from_payload

        raw, meta = raw_from_payload(payload)
        account = meta.account if meta is not None else None
        reader = self.for_account(account)
        own = (
            reader.own_addresses()
            if isinstance(reader, EmailChannel)
            else frozenset(a for ch in self.accounts() for a in ch.account_ids())
        )
        yield parse_message(raw, own_addresses=own, meta=meta, sink=self._sink(), account=account)

    def _sink(self) -> AttachmentSink | None:
        if self.settings.attachments is not AttachmentMode.DIRECTORY:
            return None
        folder = Path(self.settings.attachment_dir or ".").expanduser()

        def store(part: Part) -> str | None:
            assert part.content is not None
            digest = hashlib.sha256(part.content).hexdigest()
            suffix = Path(part.name or "").suffix.lower()
            if not suffix.isascii() or not suffix[1:].isalnum() or len(suffix) > 10:
                suffix = ""
            path = folder / digest[:2] / f"{digest}{suffix}"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(path.suffix + ".tmp")
                tmp.write_bytes(part.content)
                tmp.replace(path)
            return path.resolve().as_uri()

        return store

    def send(self, message: OutboundMessage) -> SendResult:
        """Send ``message`` by SMTP as a reply that threads in the customer's client.

        :raises TransientSendError: on SMTP 4xx, timeouts and dropped connections.
        :raises PermanentSendError: on SMTP 5xx (with the server's message) or bad settings.
        """
        smtp = self.settings.smtp
        if smtp is None:
            raise PermanentSendError("channels.email.smtp is not configured")
        from scrm_email import smtp as smtp_ops

        sender = self.reply_account(message.account)
        if sender is not None and sender != smtp.from_address:
            smtp = smtp.model_copy(update={"from_address": sender})
        return smtp_ops.send(message, smtp)

    def reply_account(self, account: str | None) -> str | None:
        """The address a reply comes from: the one the customer wrote to when it is one of
        this account's (iade@ beside destek@, in a folder of its own), else the SMTP
        ``from_address``."""
        if account is not None and account in self.account_ids():
            return account
        smtp = self.settings.smtp
        return smtp.from_address if smtp is not None else super().reply_account(None)
