"""The shared shape of scrm's text-in, JSON-out commands (``scrm classify``, ``scrm promises detect``).

Each input line is a JSON object ``{"id": ..., "text": ..., "lang"?: ...}``; each output line
answers the input line at the same position.  A line that cannot be handled, a blank one
included (so positions never shift), yields ``{"id": <id or null>, "error": "<reason naming
the field>", "line": <1-based number>}`` instead of stopping the run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from scrm.core.schemas import MAX_TEXT_LENGTH

__all__ = ["LineError", "TextJob", "run_lines"]


class LineError(ValueError):
    """A line that cannot be handled; ``id`` is echoed in the error object when known."""

    def __init__(self, message: str, id_: Any = None) -> None:
        super().__init__(message)
        self.id = id_


@dataclass(frozen=True)
class TextJob:
    id: str | int | None
    text: str
    lang: str | None
    fields: dict[str, Any]
    """The whole decoded object, for command-specific fields such as ``followers``."""
    line: int


def parse_line(raw: str, number: int) -> TextJob:
    """Decode and check one line. :raises LineError: naming what is wrong."""
    line = raw.lstrip("\ufeff").strip() if isinstance(raw, str) else ""
    if not line:
        raise LineError('blank line: expected a JSON object with "id" and "text"')
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise LineError(f"not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise LineError(f'expected a JSON object with "id" and "text", got {type(obj).__name__}')
    id_ = obj.get("id")
    if id_ is not None and (isinstance(id_, bool) or not isinstance(id_, str | int)):
        raise LineError(f'field "id" must be a string or an integer, got {type(id_).__name__}')
    text = obj.get("text")
    if text is None:
        raise LineError('missing field "text"', id_)
    if not isinstance(text, str):
        raise LineError(f'field "text" must be a string, got {type(text).__name__}', id_)
    if len(text) > MAX_TEXT_LENGTH:  # refused before any pattern reads it, as on ingest
        raise LineError(
            f'field "text" is {len(text)} characters, over the {MAX_TEXT_LENGTH} allowed', id_
        )
    lang = obj.get("lang")
    if lang is not None and not isinstance(lang, str):
        raise LineError(f'field "lang" must be a string, got {type(lang).__name__}', id_)
    return TextJob(id_, text, lang, obj, number)


def run_lines(
    lines: Iterable[str], handle: Callable[[TextJob], dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """Yield ``handle``'s answer for each line, or an error object at that line's position."""
    for number, raw in enumerate(lines, start=1):
        try:
            job = parse_line(raw, number)
            yield {"id": job.id, **handle(job)}
        except LineError as exc:
            yield {"id": exc.id, "error": str(exc), "line": number}
