"""Logs carry ids, not what people wrote or who they are, unless ``log_content`` is on.

Wrap anything personal in :func:`loggable` before logging it: message texts, e-mail
addresses, phone numbers, handles, and channel user ids that are addresses (e-mail, phone).
Database ids, message ids, channel names and counts are logged as they are.
"""

from __future__ import annotations

__all__ = ["REDACTED", "content_logging", "loggable", "set_log_content"]

REDACTED = "<redacted>"

_enabled = [False]


def set_log_content(enabled: bool) -> None:
    """Switch content logging on or off for this process (``log_content`` in the config).

    Logging is configured per process, like logging's own levels; :class:`~scrm.core.app.Scrm`
    sets it from its configuration when it starts.
    """
    _enabled[0] = enabled


def content_logging() -> bool:
    """Return whether log lines may include content and personal data."""
    return _enabled[0]


def loggable(value: object) -> object:
    """Return ``value`` for a log line when content logging is on, else ``<redacted>``."""
    return value if _enabled[0] else REDACTED
