"""Cursor pagination: ``?limit=&cursor=``; the cursor is opaque (the last id, encoded)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Generic, TypeVar

from fastapi import Path, Query
from pydantic import BaseModel, Field

from scrm.server.errors import ApiError

__all__ = ["MAX_ID", "IdPath", "IdQuery", "Page", "decode_cursor", "encode_cursor", "page"]

T = TypeVar("T")
#: Ids are 32-bit integers in the database; larger numbers are refused as input.
MAX_ID = 2**31 - 1
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` as ``cursor`` for the next (null: no more)."""

    items: list[T]
    next_cursor: str | None = Field(default=None, description="Cursor of the next page.")


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """Return the id after which the page starts; 422 for a cursor this API did not make."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = raw.partition(":")
        if prefix != "v1" or not value.isdigit() or int(value) > MAX_ID:
            raise ValueError(raw)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(422, "invalid", "not a cursor this API gave out", "cursor") from None


def page(items: list[T], limit: int) -> Page[T]:
    """Trim a list fetched with ``limit + 1`` rows (each with an ``id``) into a page."""
    if len(items) > limit:
        last: int = getattr(items[limit - 1], "id")  # noqa: B009
        return Page[T](items=items[:limit], next_cursor=encode_cursor(last))
    return Page[T](items=items, next_cursor=None)
