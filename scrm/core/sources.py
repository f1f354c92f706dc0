"""Turn lines of JSON (files, stdin, replayed rejects) into pipeline records, lazily.

A line that is not JSON, fails validation, or that the channel cannot parse becomes a
:class:`~scrm.core.pipeline.Rejected` naming the line, the field and the reason; the lines
around it are unaffected.  Nothing is read ahead beyond the current line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from scrm.core.bounds import MAX_DEPTH
from scrm.core.channel import Channel, ParseError
from scrm.core.config import plain_message
from scrm.core.pipeline import Origin, Record, Rejected
from scrm.core.schemas import InboundInteraction

__all__ = ["FORMATS", "describe_validation_error", "dump", "read_jsonl", "records_from_payload"]

FORMATS = ("native", "interactions")
_BOM = b"\xef\xbb\xbf"


def describe_validation_error(exc: ValidationError) -> tuple[str, str | None]:
    """Return (reason, field) for the first problem of a pydantic error, in plain words."""
    err = exc.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in err["loc"]) or None
    msg = plain_message(err)
    if len(exc.errors()) > 1:
        others = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()[1:4])
        msg += f" (also: {others})"
    return msg, loc


def records_from_payload(
    payload: Any, origin: Origin, fmt: str, channel: Channel | None
) -> Iterator[Record]:
    """Yield the records in one decoded payload (an interchange object or a native one)."""
    if fmt == "interactions":
        try:
            yield (InboundInteraction.model_validate(payload), origin)
        except ValidationError as exc:
            reason, fld = describe_validation_error(exc)
            yield Rejected(origin, reason, fld)
        return
    assert channel is not None, "native format needs a channel"
    try:
        parts = list(channel.split(payload))
    except Exception as exc:  # a channel bug must not lose the record
        reason = (
            f"channel {channel.name!r} failed to split the payload: {type(exc).__name__}: {exc}"
        )
        yield Rejected(origin, reason)
        return
    for index, part in enumerate(parts):
        # A payload of several parts keeps each part as its own record, so a reject holds
        # exactly the part at fault and replays alone.
        part_origin = origin if len(parts) == 1 else replace(origin, payload=dump(part))
        prefix = "" if len(parts) == 1 else f"[{index}]"
        try:
            parsed = list(channel.parse(part))
        except ParseError as exc:
            yield Rejected(part_origin, exc.reason, _join(prefix, exc.field))
            continue
        except ValidationError as exc:
            reason, fld = describe_validation_error(exc)
            yield Rejected(part_origin, reason, _join(prefix, fld))
            continue
        except Exception as exc:  # a channel bug must not lose the record
            reason = f"channel {channel.name!r} failed to parse: {type(exc).__name__}: {exc}"
            yield Rejected(part_origin, reason, prefix or None)
            continue
        for it in parsed:
            yield (it, part_origin)


def _join(prefix: str, field: str | None) -> str | None:
    if not prefix:
        return field
    return f"{prefix}.{field}" if field else prefix


def dump(payload: Any) -> str:
    """Serialise a payload for keeping as a reject (JSON, or repr when it is not JSON-able)."""
    try:
        return json.dumps(payload, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(payload)
    except RecursionError:
        return f"<a payload nested deeper than {MAX_DEPTH} levels, not kept>"


def read_jsonl(
    lines: Iterable[str | bytes],
    *,
    source: str,
    fmt: str,
    channel: Channel | None = None,
    channel_name: str | None = None,
) -> Iterator[Record]:
    """Yield records from JSON lines; blank lines are skipped, line numbers are 1-based."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    for number, line in enumerate(lines, start=1):
        if isinstance(line, bytes):
            if number == 1 and line.startswith(_BOM):
                line = line[len(_BOM) :]
            try:
                decoded = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                kept = line.strip()
                origin = Origin(
                    source, number, kept.decode("utf-8", "replace"), fmt, channel_name, raw=kept
                )
                yield Rejected(origin, f"not UTF-8 (byte {exc.start + 1})")
                continue
        else:
            decoded = line
        if number == 1:
            decoded = decoded.removeprefix("\ufeff")
        text = decoded.strip()
        if not text:
            continue
        origin = Origin(source, number, text, fmt, channel_name)
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Rejected(origin, f"not valid JSON: {exc.msg} at column {exc.colno}")
            continue
        except RecursionError:
            yield Rejected(origin, f"not accepted: JSON nested deeper than {MAX_DEPTH} levels")
            continue
        except ValueError as exc:  # e.g. an integer of more than 4,300 digits
            yield Rejected(origin, f"not accepted: {str(exc).splitlines()[0][:200]}")
            continue
        if not isinstance(payload, dict):
            yield Rejected(origin, f"expected a JSON object, got {type(payload).__name__}")
            continue
        yield from records_from_payload(payload, origin, fmt, channel)
