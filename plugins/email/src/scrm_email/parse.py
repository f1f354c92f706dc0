"""Turn one raw e-mail (RFC 5322 bytes) into an :class:`~scrm.plugin.InboundInteraction`.

The native payload of the e-mail channel is one JSON object per message, so that
``scrm ingest --channel email FILE.jsonl`` and replayed rejects work like any channel's::

    {"raw_base64": "<the message's bytes, base64>", "source": "inbox.mbox#12",
     "mailbox": "destek@acme.com.tr@imap.example.com/INBOX", "uid": 4711,
     "uidvalidity": 1729490137, "received_at": "2024-10-21T06:30:09+00:00"}

Only ``raw_base64`` is required.  Raw ``bytes`` are accepted too (the Python API).
"""

from __future__ import annotations

import base64
import binascii
import email
import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from scrm.plugin import (
    MAX_TEXT_LENGTH,
    Attachment,
    Author,
    Direction,
    InboundInteraction,
    ParseError,
    normalize_email,
    plain_message,
)
from scrm_email.mime import Part, address_list, header_text, message_ids, read_body
from scrm_email.noise import detect_noise
from scrm_email.text import split_reply

__all__ = ["EmailPayload", "encode_payload", "parse_message", "raw_from_payload"]

MAX_TEXT = MAX_TEXT_LENGTH
MAX_ID = 255
#: Headers kept in ``raw["headers"]`` (what an agent or an auditor wants to see).
KEPT_HEADERS = (
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Date",
    "Subject",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Auto-Submitted",
    "Precedence",
    "List-Id",
    "X-Autoreply",
    "X-Failed-Recipients",
    "Return-Path",
)

AttachmentSink = Callable[[Part], str | None]
"""Store an attachment's content and return where it now is (a URL), or None."""


class EmailPayload(BaseModel):
    """The JSON form of one message (a line of a native JSONL file, a stored reject)."""

    model_config = ConfigDict(extra="forbid")

    raw_base64: str = Field(description="The message's RFC 5322 bytes, base64-encoded.")
    source: str | None = Field(
        default=None, description="File, mbox entry or mailbox it came from."
    )
    mailbox: str | None = Field(default=None, description="IMAP mailbox key, when polled.")
    account: str | None = Field(
        default=None,
        max_length=255,
        description="The brand's address the mailbox receives (the interaction's account).",
    )
    uid: int | None = Field(default=None, ge=1, description="IMAP UID in that mailbox.")
    uidvalidity: int | None = Field(default=None, ge=0, description="The mailbox's UIDVALIDITY.")
    received_at: AwareDatetime | None = Field(
        default=None, description="When the server received it; used when Date is missing."
    )


def encode_payload(raw: bytes, **meta: Any) -> dict[str, Any]:
    """Return the JSON payload for ``raw`` with optional ``source``, ``mailbox``, ``uid`` ..."""
    payload: dict[str, Any] = {"raw_base64": base64.b64encode(raw).decode("ascii")}
    payload.update({k: v for k, v in meta.items() if v is not None})
    return payload


def raw_from_payload(payload: Any) -> tuple[bytes, EmailPayload | None]:
    """Return the message bytes of a native payload and its metadata.

    :raises ParseError: naming the field at fault.
    """
    if isinstance(payload, bytes | bytearray):
        return bytes(payload), None
    if not isinstance(payload, dict):
        raise ParseError(
            f"expected an object with raw_base64 or bytes, got {type(payload).__name__}"
        )
    try:
        meta = EmailPayload.model_validate(payload)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        raise ParseError(plain_message(err), ".".join(str(p) for p in err["loc"]) or None) from None
    try:
        raw = base64.b64decode(meta.raw_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ParseError(f"not valid base64: {exc}", "raw_base64") from None
    if not raw.strip():
        raise ParseError("the message is empty", "raw_base64")
    return raw, meta


def _date(msg: EmailMessage, meta: EmailPayload | None) -> datetime:
    candidates = [header_text(msg, "Date")]
    received = msg.get_all("Received") or []
    candidates += [str(r).rpartition(";")[2] for r in received[:1]]
    for value in candidates:
        if not value.strip():
            continue
        try:
            when = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            continue
        return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    if meta is not None and meta.received_at is not None:
        return meta.received_at
    return datetime.now(UTC)


def _person(display: str, address: str) -> Author:
    try:
        mail: str | None = normalize_email(address)
    except ValueError:
        mail = None
    return Author(
        external_id=(mail or address)[:MAX_ID], display_name=display[:255] or None, email=mail
    )


def _fit(msgid: str) -> str:
    """Return ``msgid`` if it fits an external id, else a stable short form of it."""
    if len(msgid) <= MAX_ID:
        return msgid
    return f"<sha256-{hashlib.sha256(msgid.encode()).hexdigest()}@scrm.invalid>"


def _bounced_message_id(parts: list[Part]) -> str | None:
    """Return the Message-ID of the original message a bounce returns, if it carries one."""
    for p in parts:
        if p.content and p.content_type in ("message/rfc822", "text/rfc822-headers"):
            headers = BytesHeaderParser(policy=policy.default).parsebytes(p.content)
            ids = message_ids(header_text(headers, "Message-ID"))
            if ids:
                return ids[0]
    return None


def parse_message(
    raw: bytes,
    *,
    own_addresses: frozenset[str] = frozenset(),
    meta: EmailPayload | None = None,
    sink: AttachmentSink | None = None,
    channel: str = "email",
    account: str | None = None,
) -> InboundInteraction:
    """Parse the RFC 5322 message ``raw``.

    :param own_addresses: the brand's addresses; a message from one of them is outbound.
    :param account: the brand's address it was delivered to (the polled mailbox's); by
        default the first of the brand's addresses among ``Delivered-To``, ``X-Original-To``,
        ``To`` and ``Cc``, or the sender of the brand's own mail.
    :param meta: where the message came from (kept in ``raw``).
    :param sink: stores attachment content when configured.
    :raises ParseError: when the message has no usable sender.
    """
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    senders = address_list(msg, "From") or address_list(msg, "Sender")
    if not senders:
        path = message_ids(header_text(msg, "Return-Path"))
        if path:
            senders = [("", path[0].strip("<>").lower())]
    if not senders:
        raise ParseError("no sender address", "From")
    display, sender = senders[0]

    own_ids = message_ids(header_text(msg, "Message-ID"))
    external_id = (
        _fit(own_ids[0])
        if own_ids
        else (f"<sha256-{hashlib.sha256(raw).hexdigest()}@scrm.invalid>")
    )
    references = message_ids(header_text(msg, "References"))
    parents = message_ids(header_text(msg, "In-Reply-To"))
    in_reply_to = parents[0] if parents else (references[-1] if references else None)
    thread_key = references[0] if references else (in_reply_to or external_id)

    subject = header_text(msg, "Subject")
    body, parts = read_body(msg)
    # Cut before anything reads the text: only the first MAX_TEXT characters can be kept, and
    # no text path then sees more than the longest text an interaction may hold.
    full = body.text[:MAX_TEXT]
    split = split_reply(full)
    noise = detect_noise(msg, sender, subject)

    outbound = sender in own_addresses
    recipients = [
        (d, a)
        for d, a in address_list(msg, "To") + address_list(msg, "Cc")
        if a not in own_addresses
    ]
    author = _person(display, sender)
    recipient = _person(*recipients[0]) if outbound and recipients else None
    if account is None:
        delivered = [
            a
            for h in ("Delivered-To", "X-Original-To", "To", "Cc")
            for _, a in address_list(msg, h)
            if a in own_addresses
        ]
        account = sender if outbound else next(iter(delivered), None)

    attachments = tuple(
        Attachment(
            name=p.name,
            content_type=p.content_type,
            size=p.size,
            url=sink(p) if sink is not None and p.content is not None else None,
        )
        for p in parts
    )
    keep: dict[str, Any] = {
        "headers": {h: header_text(msg, h) for h in KEPT_HEADERS if msg.get(h) is not None},
    }
    if len(body.text) > MAX_TEXT:
        keep["body_cut"] = {"length": len(body.text), "kept": MAX_TEXT}
    if split.new != full:
        keep["body"] = full
    if split.quoted:
        keep["quoted"] = split.quoted[:MAX_TEXT]
    if split.signature:
        keep["signature"] = split.signature
    if body.html:
        keep["html_only"] = True
    if len(references) > 1:
        keep["references"] = references
    if noise is not None:
        keep["scrm_noise"] = noise.kind
        keep["scrm_noise_reason"] = noise.reason
    if noise is not None and noise.kind == "bounce":
        keep["failed_recipients"] = [
            a.strip() for a in header_text(msg, "X-Failed-Recipients").split(",") if a.strip()
        ]
        bounced = _bounced_message_id(parts)
        if bounced:
            keep["bounced_message_id"] = bounced
    if meta is not None:
        keep["origin"] = meta.model_dump(mode="json", exclude={"raw_base64"}, exclude_none=True)

    text = split.new or full
    return InboundInteraction(
        channel=channel,
        account=account,
        external_id=external_id,
        text=text[:MAX_TEXT],
        created_at=_date(msg, meta),
        author=author,
        recipient=recipient,
        direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
        public=False,
        thread_key=_fit(thread_key),
        in_reply_to=_fit(in_reply_to) if in_reply_to else None,
        subject=re.sub(r"\s+", " ", subject)[:1000] or None,
        attachments=attachments,
        noise=noise.kind if noise is not None else None,
        raw=keep,
    )
