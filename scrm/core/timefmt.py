"""Times for people: every instant a person reads, in the configured zone, labelled.

Instants are stored and exchanged (JSON, the API) in UTC with an offset; what a person reads
(CLI tables, a case's timeline, the HTML report) goes through :func:`format_time` in the zone
of the ``timezone`` setting, and the table or page says which zone that is with
:func:`zone_label`.  Text that already holds ISO 8601 instants (event notes written at the
time, such as ``due 2024-10-21T06:41:53+00:00``) is rewritten the same way by
:func:`localize_text`, so that one timeline never mixes the two forms.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scrm.core.errors import N_, InvalidInput

__all__ = ["format_time", "get_zone", "localize_text", "zone_label"]

#: An instant with an offset: ISO 8601 as ``datetime.isoformat()`` writes it, ``Z``, or the
#: ``2024-10-21 09:00 UTC`` of older notes.
_ISO_INSTANT = re.compile(
    r"\b(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}| UTC\b)"
)


def get_zone(name: str | None) -> tzinfo:
    """Return the zone called ``name`` (an IANA name such as ``Europe/Istanbul``; None is UTC).

    :raises InvalidInput: no such zone (a ``ValueError``).
    """
    if not name or name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            N_("unknown time zone %(name)r: use an IANA name such as 'Europe/Istanbul' or 'UTC'"),
            name=name,
        ) from None


def format_time(value: datetime | None, zone: tzinfo, *, offset: bool = False) -> str:
    """Return ``value`` as ``YYYY-MM-DD HH:MM`` in ``zone`` ("" for None).

    A naive value is taken as UTC (what the database returns on SQLite).

    :param offset: append the offset (``2024-10-27 14:05 +03:00``), for a time shown alone
        rather than in a table labelled with its zone.
    """
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(zone)
    if not offset:
        return local.strftime("%Y-%m-%d %H:%M")
    z = local.strftime("%z")
    return local.strftime("%Y-%m-%d %H:%M ") + f"{z[:3]}:{z[3:]}"


def zone_label(zone: tzinfo, at: datetime | None = None) -> str:
    """Name ``zone`` for a caption: ``Europe/Istanbul (UTC+03:00)``, or ``UTC``.

    :param at: the instant whose offset is shown (default: now); zones with summer time
        have two.
    """
    name = str(zone)
    if zone is UTC or name == "UTC":
        return "UTC"
    offset = (at or datetime.now(UTC)).astimezone(zone).strftime("%z")
    return f"{name} (UTC{offset[:3]}:{offset[3:]})"


def localize_text(text: str, zone: tzinfo) -> str:
    """Rewrite every ISO 8601 instant with an offset in ``text`` as :func:`format_time` does."""

    def local(m: re.Match[str]) -> str:
        offset = "+00:00" if m[3] in ("Z", " UTC") else m[3]
        try:
            when = datetime.fromisoformat(f"{m[1]}T{m[2]}{offset}")
        except ValueError:
            return m[0]
        return format_time(when, zone)

    return _ISO_INSTANT.sub(local, text)
