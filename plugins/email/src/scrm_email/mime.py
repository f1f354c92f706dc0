"""Read what a MIME message says: decoded headers, message ids, addresses, bodies, attachments.

The stdlib ``email`` package (``policy.default``) does the MIME work; this module adds the
tolerance real mail needs: 8-bit headers in an undeclared charset, wrong charset labels
(windows-1254 sent as Latin-1), id lists separated by commas, missing charsets.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import getaddresses

from scrm_email.text import html_to_text, normalise_newlines, repair_mojibake, unflow

__all__ = [
    "Body",
    "Part",
    "address_list",
    "decode_bytes",
    "header_text",
    "leaf_parts",
    "message_ids",
    "read_body",
]

_MSGID = re.compile(r"<[^<>]+>")
_SURROGATE = re.compile(r"[\udc80-\udcff]")
#: Charsets whose label is often a lie for Turkish text sent as windows-1254.
_LATIN1_LABELS = frozenset(
    {"iso-8859-1", "latin-1", "latin1", "l1", "cp1252", "windows-1252", "us-ascii", "ascii"}
)


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode ``data`` with its declared ``charset``, falling back to UTF-8 and then windows-1254.

    A declared Latin-1 that holds windows-1254 text is repaired (see
    :func:`~scrm_email.text.repair_mojibake`).
    """
    label = (charset or "").strip().strip('"').lower()
    candidates = [label] if label and label not in ("unknown-8bit", "x-unknown") else []
    candidates += ["utf-8", "cp1254"]
    for name in candidates:
        try:
            codecs.lookup(name)
            text = data.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
        if name in _LATIN1_LABELS or name != label:
            text = repair_mojibake(text)
        return text
    return data.decode("cp1254", errors="replace")


def _raw_8bit(msg: Message, name: str) -> str | None:
    """Return the undecoded value of header ``name`` if it holds raw 8-bit bytes, else None."""
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            return value if isinstance(value, str) and _SURROGATE.search(value) else None
    return None


def header_text(msg: Message, name: str) -> str:
    """Return header ``name`` decoded to text ('' when absent or unreadable), on one line."""
    raw = _raw_8bit(msg, name)
    if raw is not None:  # 8-bit bytes in a header: no charset is declared, so guess
        text = decode_bytes(raw.encode("utf-8", "surrogateescape"), None)
    else:
        try:
            value = msg.get(name)
        except Exception:  # a malformed header must not lose the message
            value = None
        text = repair_mojibake(str(value)) if value is not None else ""
    return re.sub(r"\s+", " ", text).strip()


def message_ids(value: str) -> list[str]:
    """Return the message ids in a Message-ID, In-Reply-To or References value, in order, once each.

    Ids are taken in angle brackets (``<[^>]+>``, so ``<test-in-reply-to>`` is kept); a value
    without any is split on commas and spaces, keeping tokens that contain ``@``.
    """
    found = [re.sub(r"\s+", "", m) for m in _MSGID.findall(value)]
    if not found:
        found = [f"<{t.strip('<>')}>" for t in re.split(r"[\s,]+", value) if "@" in t]
    seen: dict[str, None] = {}
    for mid in found:
        if len(mid) > 2:
            seen.setdefault(mid, None)
    return list(seen)


def address_list(msg: Message, name: str) -> list[tuple[str, str]]:
    """Return ``(display name, address)`` pairs of an address header, addresses lower-cased."""
    pairs: list[tuple[str, str]] = []
    try:
        header = msg.get(name)
        addresses: tuple[Address, ...] = getattr(header, "addresses", ())
    except Exception:  # malformed: fall back to the lenient parser below
        header, addresses = None, ()
    if _raw_8bit(msg, name) is not None:
        addresses = ()
    if addresses:
        for a in addresses:
            display = header_fix(a.display_name)
            pairs.append((display, a.addr_spec.strip().lower()))
    elif header is not None:
        for display, addr in getaddresses([header_text(msg, name)]):
            pairs.append((header_fix(display), addr.strip().lower()))
    return [(d, a) for d, a in pairs if "@" in a]


def header_fix(text: str) -> str:
    """Repair a decoded header fragment (display name) as :func:`header_text` does."""
    if _SURROGATE.search(text):
        text = decode_bytes(text.encode("utf-8", "surrogateescape"), None)
    return repair_mojibake(text).strip()


@dataclass(frozen=True)
class Part:
    """A leaf of the MIME tree that is not the message's text: an attachment."""

    name: str | None
    content_type: str
    size: int
    content: bytes | None


@dataclass(frozen=True)
class Body:
    text: str
    html: bool
    """True when the text was reduced from an HTML part (no plain alternative)."""


def leaf_parts(part: Message) -> Iterator[Message]:
    """Yield the leaves of the MIME tree, not descending into attached messages."""
    if part.get_content_maintype() == "multipart" and part.is_multipart():
        for sub in part.get_payload():
            if isinstance(sub, Message):
                yield from leaf_parts(sub)
    else:
        yield part


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    text = normalise_newlines(decode_bytes(data, part.get_content_charset()))
    if (
        part.get_content_type() == "text/plain"
        and str(part.get_param("format", "")).lower() == "flowed"
    ):
        text = unflow(text, delsp=str(part.get_param("delsp", "")).lower() == "yes")
    return text


def _is_body_text(part: Message) -> bool:
    return (
        part.get_content_type() in ("text/plain", "text/html")
        and part.get_content_disposition() != "attachment"
        and not part.get_filename()
    )


def read_body(msg: EmailMessage) -> tuple[Body, list[Part]]:
    """Return the message's text (plain preferred, else HTML reduced) and its attachments."""
    try:
        chosen = msg.get_body(preferencelist=("plain", "html"))
    except Exception:
        chosen = None
    text, html = "", False
    if chosen is not None:
        text = _part_text(chosen)
        if chosen.get_content_subtype() == "html":
            text, html = html_to_text(text), True
        elif not text.strip():  # an empty plain part next to a real HTML one
            alt = msg.get_body(preferencelist=("html",))
            if alt is not None:
                text, html = html_to_text(_part_text(alt)), True
    parts: list[Part] = []
    for leaf in leaf_parts(msg):
        ctype = leaf.get_content_type()
        if leaf is chosen or _is_body_text(leaf) or ctype == "message/delivery-status":
            continue
        parts.append(_attachment(leaf))
    return Body(text=text.strip("\n"), html=html), parts


def _attachment(leaf: Message) -> Part:
    if leaf.get_content_maintype() == "message":
        inner = leaf.get_payload()
        first = inner[0] if isinstance(inner, list) and inner else None
        content = first.as_bytes() if isinstance(first, Message) else None
    else:
        payload = leaf.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else None
    size = len(content) if content is not None else 0
    declared = leaf.get_param("size", None, header="content-disposition")
    if isinstance(declared, str) and declared.isdigit():
        # RFC 2183 size: an archive or gateway that stripped the content keeps the original size.
        size = max(size, int(declared))
    name = leaf.get_filename()
    return Part(
        name=header_fix(name) if name else None,
        content_type=leaf.get_content_type(),
        size=size,
        content=content,
    )
