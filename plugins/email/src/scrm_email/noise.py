"""Recognise mail that no human wrote to us: auto-replies, bounces, mailing lists, bulk.

Such mail is kept and shown, but must never open a case nor receive an automatic answer:
answering an auto-reply with an auto-acknowledgment is how mail loops start (RFC 3834).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal

from scrm_email.text import fold

__all__ = ["AUTOMATIC_LOCALPARTS", "Noise", "detect_noise", "is_automatic_address"]

#: Local parts of addresses that belong to machines; scrm never writes to them.
AUTOMATIC_LOCALPARTS = frozenset(
    {
        "mailer-daemon",
        "postmaster",
        "no-reply",
        "noreply",
        "do-not-reply",
        "donotreply",
        "bounce",
        "bounces",
    }
)

_BOUNCE_SUBJECTS = re.compile(
    r"^(undeliverable|undelivered mail|delivery status notification|mail delivery failed|"
    r"returned mail|delivery failure|iletilemedi|teslim edilemedi|teslim edilemeyen)",
)
_AUTO_REPLY_SUBJECTS = re.compile(
    r"^(otomatik yanit|otomatik cevap|otomatik yanit:|ofis disinda|out of (the )?office|"
    r"automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|abwesenheitsnotiz)"
)


@dataclass(frozen=True)
class Noise:
    """Why a message is noise: ``kind`` is bounce, auto_reply, mailing_list or bulk."""

    kind: Literal["auto_reply", "bounce", "mailing_list", "bulk"]
    reason: str


def is_automatic_address(address: str) -> bool:
    """Return True for addresses such as ``mailer-daemon@...`` and ``no-reply@...``."""
    local = address.rpartition("@")[0].lower()
    return local in AUTOMATIC_LOCALPARTS or local.startswith(("bounce+", "bounces+"))


def _header(msg: EmailMessage, name: str) -> str:
    value = msg.get(name)
    return str(value).strip() if value is not None else ""


def detect_noise(msg: EmailMessage, sender: str, subject: str) -> Noise | None:
    """Return why ``msg`` is automatic mail, or None when a person seems to have written it.

    :param msg: the parsed message.
    :param sender: its normalised From address.
    :param subject: its decoded subject.
    """
    folded_subject = fold(subject).strip()
    # Bounces first: a DSN usually also says Auto-Submitted, but it is a bounce.
    if msg.get_content_type() == "multipart/report":
        report_type = str(msg.get_param("report-type", "")).lower()
        if report_type in ("delivery-status", ""):
            return Noise("bounce", "Content-Type: multipart/report (delivery status)")
    if msg.get("X-Failed-Recipients"):
        return Noise("bounce", "X-Failed-Recipients header")
    local = sender.rpartition("@")[0].lower()
    if local in ("mailer-daemon", "postmaster"):
        return Noise("bounce", f"sent by {local}")
    if _BOUNCE_SUBJECTS.match(folded_subject) and _header(msg, "Return-Path") == "<>":
        return Noise("bounce", "bounce subject with an empty Return-Path")

    auto_submitted = _header(msg, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted.split(";")[0].strip() != "no":
        return Noise("auto_reply", f"Auto-Submitted: {auto_submitted}")
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"):
        if msg.get(name) is not None:
            return Noise("auto_reply", f"{name} header")
    precedence = _header(msg, "Precedence").lower()
    if precedence == "auto_reply":
        return Noise("auto_reply", "Precedence: auto_reply")
    if _AUTO_REPLY_SUBJECTS.match(folded_subject):
        return Noise("auto_reply", f"out-of-office subject {subject!r}")

    if msg.get("List-Id") is not None or msg.get("List-Unsubscribe") is not None:
        return Noise("mailing_list", "List-Id/List-Unsubscribe header")
    if precedence == "list":
        return Noise("mailing_list", "Precedence: list")
    if precedence in ("bulk", "junk"):
        return Noise("bulk", f"Precedence: {precedence}")
    return None
