"""The limits every value from outside must respect, checked before it reaches a database.

Both databases must accept whatever passes here, identically: integers fit a signed 64-bit
column, instants lie between :data:`EARLIEST` and :data:`LATEST` (so date arithmetic around
them cannot overflow), text holds no NUL and no lone surrogate (PostgreSQL refuses the first,
UTF-8 the second), and JSON kept whole (``raw``) is at most :data:`MAX_DEPTH` levels deep and
holds only finite numbers (PostgreSQL's ``jsonb`` has no NaN or Infinity).

Text is *normalised*, not refused: :func:`clean_text` replaces each NUL and lone surrogate
with U+FFFD, so a message is stored with a visible mark where the bad character was.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field

__all__ = [
    "EARLIEST",
    "INT32_MAX",
    "INT64_MAX",
    "LATEST",
    "MAX_DEPTH",
    "Count",
    "Count32",
    "Instant",
    "RowId",
    "TooDeep",
    "check_instant",
    "clean_json",
    "clean_text",
    "has_bad_text",
]

INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MAX_DEPTH = 64
"""Nesting levels a kept JSON payload may have (an object in an object is two)."""

REPLACEMENT = "\ufffd"


def check_instant(value: datetime) -> datetime:
    """Return ``value`` if it lies in ``[EARLIEST, LATEST)``. :raises ValueError: otherwise."""
    if value.tzinfo is None:
        raise ValueError("needs a time zone offset")
    try:
        # Naive arithmetic: converting year 1 or 9999 to UTC can itself overflow.
        utc = value.replace(tzinfo=None) - (value.utcoffset() or timedelta(0))
    except OverflowError:
        utc = None
    if utc is None or not _EARLIEST_NAIVE <= utc < _LATEST_NAIVE:
        raise ValueError(f"must lie between {EARLIEST.year} and {LATEST.year - 1}")
    return value


_EARLIEST_NAIVE = EARLIEST.replace(tzinfo=None)
_LATEST_NAIVE = LATEST.replace(tzinfo=None)


Instant = Annotated[AwareDatetime, AfterValidator(check_instant)]
"""A timezone-aware instant between 1970 and 2099."""
Count = Annotated[int, Field(ge=0, le=INT64_MAX)]
"""A non-negative count kept in JSON: signed 64 bits."""
Count32 = Annotated[int, Field(ge=0, le=INT32_MAX)]
"""A non-negative count stored in an integer column (32 bits on PostgreSQL)."""
RowId = Annotated[int, Field(ge=1, le=INT32_MAX)]
"""A database id: ids are integer columns, 32 bits on PostgreSQL."""


def clean_text(text: str) -> tuple[str, bool]:
    """Return ``text`` with NUL and lone surrogates replaced by U+FFFD, and whether any was."""
    bad = False
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = "".join(REPLACEMENT if "\ud800" <= c <= "\udfff" else c for c in text)
            bad = True
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
        bad = True
    return text, bad


def has_bad_text(value: Any, max_depth: int = 16) -> bool:
    """Whether a small decoded value holds a string (or key) with NUL or a lone surrogate.

    For the few fields of a model: cheaper than serialising them.  Deeper than
    ``max_depth`` counts as bad, so that :func:`clean_json` decides.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            return True
        if isinstance(item, dict):
            for k, v in item.items():
                if isinstance(k, str) and _bad(k):
                    return True
                if isinstance(v, str):
                    if _bad(v):
                        return True
                elif isinstance(v, dict | list | tuple):
                    stack.append((v, depth + 1))
        elif isinstance(item, list | tuple):
            for v in item:
                if isinstance(v, str):
                    if _bad(v):
                        return True
                elif isinstance(v, dict | list | tuple):
                    stack.append((v, depth + 1))
        elif isinstance(item, str) and _bad(item):
            return True
    return False


def _bad(text: str) -> bool:
    return "\x00" in text or (not text.isascii() and not _encodes(text))


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class TooDeep(ValueError):
    """A JSON value nested deeper than allowed."""

    def __init__(self, path: str, limit: int) -> None:
        super().__init__(f"nested deeper than {limit} levels")
        self.path = path


def clean_json(
    value: Any, *, max_depth: int = MAX_DEPTH, drop_nonfinite: bool = True, path: str = ""
) -> tuple[Any, list[str]]:
    """Return a copy of a decoded JSON value that both databases store, and what changed.

    Strings (keys too) go through :func:`clean_text`; NaN and ±Infinity become ``null``
    when ``drop_nonfinite``.  The walk is iterative, so no depth can exhaust the stack.

    :returns: the cleaned value (``value`` itself when nothing changed) and the dotted paths
        that were changed.
    :raises TooDeep: beyond ``max_depth`` levels.
    """
    if _clean_already(value, max_depth, drop_nonfinite):
        return value, []
    changed: list[str] = []
    root: list[Any] = [None]
    # (container to fill, key in it, value, path, depth)
    stack: list[tuple[Any, Any, Any, str, int]] = [(root, 0, value, path, 0)]
    while stack:
        target, key, item, where, depth = stack.pop()
        if isinstance(item, dict):
            if depth >= max_depth:
                raise TooDeep(where, max_depth)
            out: dict[Any, Any] = {}
            target[key] = out
            children = []
            for k, v in item.items():
                if isinstance(k, str):
                    k2, bad = clean_text(k)
                    if bad:
                        changed.append(_join(where, k2))
                else:
                    k2 = k
                out[k2] = None
                children.append((out, k2, v, _join(where, str(k2)), depth + 1))
            stack.extend(reversed(children))  # visited in order, so notes read top to bottom
        elif isinstance(item, list | tuple):
            if depth >= max_depth:
                raise TooDeep(where, max_depth)
            seq: list[Any] = [None] * len(item)
            target[key] = seq
            stack.extend(
                (seq, i, item[i], f"{where}[{i}]", depth + 1) for i in reversed(range(len(item)))
            )
        elif isinstance(item, str):
            target[key], bad = clean_text(item)
            if bad:
                changed.append(where)
        elif isinstance(item, float) and drop_nonfinite and not math.isfinite(item):
            target[key] = None
            changed.append(where)
        else:
            target[key] = item
    return root[0], changed


def _clean_already(value: Any, max_depth: int, drop_nonfinite: bool) -> bool:
    """Whether ``value`` is shallow enough and holds no NUL, surrogate or rejected float.

    Read by the C encoder and one regular expression, so that the common case (nothing to
    change) costs one serialisation and no copy.  Objects that are not JSON (a nested model)
    are not looked into; they clean themselves.
    """
    try:
        # ASCII output: NUL and surrogates appear as \u0000 and \ud800-\udfff escapes.
        text = json.dumps(value, allow_nan=not drop_nonfinite, default=_skip)
    except (TypeError, ValueError, RecursionError):
        return False
    if "\\u0000" in text or ("\\ud" in text and not _paired(text)):
        return False  # a false alarm (an escaped backslash) only costs time
    # Fewer brackets than the limit (some may be inside strings) cannot nest deeper.
    brackets = text.count("{") + text.count("[")
    return brackets <= max_depth or _depth(value, max_depth) <= max_depth


_SURROGATE = re.compile(r"\\ud[89a-f][0-9a-f]{2}")


def _paired(text: str) -> bool:
    """Whether every surrogate escape in ASCII JSON is half of an adjacent high-low pair."""
    pending = -1  # end of a high half waiting for its low half
    for m in _SURROGATE.finditer(text):
        high = m.group()[3] in "89ab"
        if pending >= 0:
            if high or m.start() != pending:
                return False
            pending = -1
        elif high:
            pending = m.end()
        else:
            return False
    return pending < 0


def _depth(value: Any, limit: int) -> int:
    """Levels of containers in ``value``, counted up to ``limit + 1`` (without recursion)."""
    level = [value] if isinstance(value, dict | list | tuple) else []
    depth = 0
    while level and depth <= limit:
        depth += 1
        below: list[Any] = []
        for v in level:
            items = v.values() if isinstance(v, dict) else v
            below.extend(x for x in items if isinstance(x, dict | list | tuple))
        level = below
    return depth


def _skip(_obj: Any) -> None:
    return None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
