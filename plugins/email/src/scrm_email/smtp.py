"""Send replies over SMTP so that the customer's mail client threads them.

A reply carries ``In-Reply-To`` (the message answered) and ``References`` (the thread so
far, then that message), a ``Message-ID`` scrm generates and records, and the case number in
the subject: ``[#42] Re: Fazla çekilen ücretin iadesi``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import smtplib
import ssl
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate

from scrm.plugin import (
    OutboundMessage,
    PermanentSendError,
    SendResult,
    TransientSendError,
    loggable,
    normalize_email,
)
from scrm_email.mime import message_ids
from scrm_email.noise import is_automatic_address
from scrm_email.settings import SmtpSettings, TlsMode

__all__ = ["build_message", "deliver", "reply_subject", "send"]

log = logging.getLogger(__name__)

# Written so that no two "\s*" meet and no run of blanks is scanned from each of its characters.
_PREFIX = re.compile(
    r"^\s*(?:re|fwd?|ynt|cvp|yanıt|aw|sv|antw)\s*(?:\[\d+\]\s*)?:\s*", re.IGNORECASE
)
_CASE_TAG = re.compile(r"(?<!\s)\s*\[#\d+\]\s*")
#: References kept: the thread's root and the most recent ids (RFC 5322 lets clients trim).
_MAX_REFERENCES = 20


def reply_subject(subject: str | None, *, case_id: int | None, reply: bool) -> str:
    """Return the subject of a message, case-tagged, with one ``Re:`` when it is a reply.

    ``[#42] Re: Re: Konu`` and ``Re: [#42] Konu`` both become ``[#42] Re: Konu``.
    """
    core = subject or ""
    while True:
        stripped = _CASE_TAG.sub(" ", core).strip()
        stripped = _PREFIX.sub("", stripped, count=1).strip()
        if stripped == core:
            break
        core = stripped
    if not core:
        core = f"Case #{case_id}" if case_id is not None else "(no subject)"
    text = f"Re: {core}" if reply else core
    return f"[#{case_id}] {text}" if case_id is not None else text


def _msgid(message: OutboundMessage, domain: str) -> str:
    # Derived from the idempotency key: a retried send re-uses the id, so a copy that did get
    # through before a dropped connection is recognised as the same message everywhere.
    digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:32]
    return f"<scrm.{digest}@{domain}>"


def _references(message: OutboundMessage, parent: str | None) -> list[str]:
    given = message.metadata.get("references")
    if isinstance(given, list | tuple):
        refs = message_ids(" ".join(str(r) for r in given))
    elif isinstance(given, str):
        refs = message_ids(given)
    else:
        refs = []
        if message.thread_key and message_ids(message.thread_key):
            refs = message_ids(message.thread_key)
    if parent and parent not in refs:
        refs.append(parent)
    if len(refs) > _MAX_REFERENCES:
        refs = [refs[0], *refs[-(_MAX_REFERENCES - 1) :]]
    return refs


def build_message(message: OutboundMessage, smtp: SmtpSettings) -> EmailMessage:
    """Build the e-mail for ``message``.

    ``message.metadata`` may carry ``references`` (list or string of ids), ``html`` (an
    HTML alternative), ``to_name`` (the recipient's display name), ``cc`` (addresses) and
    ``automatic`` (True for auto-acknowledgments: adds ``Auto-Submitted: auto-replied``).

    :raises PermanentSendError: when there is no valid recipient.
    """
    if not message.to:
        raise PermanentSendError("the message has no recipient address (OutboundMessage.to)")
    try:
        to = normalize_email(message.to)
    except ValueError as exc:
        raise PermanentSendError(str(exc)) from None
    if is_automatic_address(to):
        raise PermanentSendError(f"refusing to write to the automatic address {to} (mail loop)")
    parents = message_ids(message.in_reply_to or "")
    parent = parents[0] if parents else None
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = formataddr((smtp.from_name or "", smtp.from_address))
    msg["To"] = formataddr((str(message.metadata.get("to_name") or ""), to))
    cc = message.metadata.get("cc")
    if cc:
        msg["Cc"] = ", ".join(normalize_email(a) for a in ([cc] if isinstance(cc, str) else cc))
    if smtp.reply_to:
        msg["Reply-To"] = smtp.reply_to
    msg["Subject"] = reply_subject(
        message.subject or message.metadata.get("subject"),
        case_id=message.case_id,
        reply=parent is not None,
    )
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = _msgid(message, smtp.msgid_domain)
    if parent:
        msg["In-Reply-To"] = parent
        msg["References"] = " ".join(_references(message, parent))
    if message.metadata.get("automatic"):
        msg["Auto-Submitted"] = "auto-replied"
        msg["X-Auto-Response-Suppress"] = "All"
    if message.case_id is not None:
        msg["X-Scrm-Case"] = str(message.case_id)
    msg.set_content(message.text, charset="utf-8")
    html = message.metadata.get("html")
    if html:
        msg.add_alternative(str(html), subtype="html", charset="utf-8")
    return msg


def _context() -> ssl.SSLContext:
    return ssl.create_default_context()


def deliver(msg: EmailMessage, smtp: SmtpSettings, recipients: list[str]) -> None:
    """Hand ``msg`` to the SMTP server.

    :raises TransientSendError: on 4xx replies, dropped connections and timeouts.
    :raises PermanentSendError: on 5xx replies, with the server's message.
    """
    host, port = smtp.host, smtp.effective_port
    try:
        client: smtplib.SMTP
        if smtp.tls is TlsMode.SSL:
            client = smtplib.SMTP_SSL(host, port, timeout=smtp.timeout, context=_context())
        else:
            client = smtplib.SMTP(host, port, timeout=smtp.timeout)
        with client:
            if smtp.tls is TlsMode.STARTTLS:
                client.starttls(context=_context())
            password = smtp.secret()
            if smtp.username and password is not None:
                client.login(smtp.username, password)
            refused = client.send_message(msg, from_addr=smtp.from_address, to_addrs=recipients)
        if refused:
            log.warning(
                "smtp %s:%s refused %d recipients: %s",
                host,
                port,
                len(refused),
                loggable(sorted(refused)),
            )
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()))
        raise _by_code(code, text, "recipient refused") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise PermanentSendError(f"smtp {host}:{port}: {exc}") from None
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError) as exc:
        raise TransientSendError(f"smtp {host}:{port}: connection lost: {exc}") from None
    except smtplib.SMTPResponseException as exc:
        raise _by_code(exc.smtp_code, exc.smtp_error, "server refused") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise TransientSendError(f"smtp {host}:{port}: {type(exc).__name__}: {exc}") from None
    except ValueError as exc:  # a password_env that is not set
        raise PermanentSendError(f"smtp settings: {exc}") from None


def _by_code(code: int, text: bytes | str, what: str) -> TransientSendError | PermanentSendError:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    detail = f"{what}: {code} {message}".strip()
    if 400 <= code < 500:
        return TransientSendError(detail)
    return PermanentSendError(detail)


def send(message: OutboundMessage, smtp: SmtpSettings) -> SendResult:
    """Build and deliver ``message``; return its Message-ID as the external id."""
    msg = build_message(message, smtp)
    recipients = [a for _, a in _addresses(msg, "To") + _addresses(msg, "Cc")]
    deliver(msg, smtp, recipients)
    msgid = str(msg["Message-ID"])
    log.info("sent %s to %s (case %s)", msgid, loggable(recipients[0]), message.case_id)
    return SendResult(
        external_id=msgid,
        raw={
            "message_id": msgid,
            "to": recipients,
            "subject": str(msg["Subject"]),
            "in_reply_to": str(msg["In-Reply-To"]) if msg["In-Reply-To"] else None,
            "references": message_ids(str(msg["References"] or "")),
        },
    )


def _addresses(msg: EmailMessage, name: str) -> list[tuple[str, str]]:
    header = msg.get(name)
    return [(a.display_name, a.addr_spec) for a in getattr(header, "addresses", ())]
