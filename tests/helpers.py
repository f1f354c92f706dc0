"""Builders of test data shared by scrm's tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2024, 10, 21, 9, 0, tzinfo=UTC)


def message(
    n: int | str,
    text: str = "Siparişim gelmedi, berbat bir hizmet!",
    *,
    channel: str = "twitter",
    author: str = "u1",
    minutes: float = 0,
    **extra: Any,
) -> dict[str, Any]:
    """An interchange-format message (a plain dict, as a file line would hold)."""
    author_obj = extra.pop("author_obj", None) or {
        "external_id": author,
        "handle": f"h_{author}",
        "display_name": f"User {author}",
    }
    return {
        "channel": channel,
        "external_id": str(n),
        "text": text,
        "created_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        "author": author_obj,
        **extra,
    }


def jsonl(items: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items)
