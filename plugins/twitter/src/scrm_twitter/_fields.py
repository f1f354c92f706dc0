"""Read typed fields out of X's JSON, raising ParseError that names the dotted path at fault."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from scrm.plugin import Author, Engagement, ParseError

_V11_TIME = "%a %b %d %H:%M:%S %z %Y"
#: lang values that name no language: undetermined, no text, or only media/hashtags/mentions.
_NO_LANGUAGE = {"und", "zxx", "qme", "qht", "qam", "qct", "qst"}


def _from_validation(exc: ValidationError, path: str) -> ParseError:
    err = exc.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in err["loc"])
    return ParseError(f"{err['msg']} (in the mapped interaction's {loc})", path)


def _index_users(payload: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    includes = payload.get("includes") or {}
    users = includes.get("users") if isinstance(includes, dict) else None
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for n, u in enumerate(users or []):
        if isinstance(u, dict) and isinstance(u.get("id"), str):
            found[u["id"]] = (f"includes.users[{n}]", u)
    return found


def _v2_author(uid: str, users: dict[str, tuple[str, dict[str, Any]]]) -> Author:
    if uid not in users:  # not expanded (suspended account, or fields not requested)
        return Author(external_id=uid)
    path, u = users[uid]
    metrics: dict[str, Any] = (
        u["public_metrics"] if isinstance(u.get("public_metrics"), dict) else {}
    )
    return Author(
        external_id=uid,
        handle=_opt_str(u, "username", path),
        display_name=_opt_str(u, "name", path),
        followers=_count(metrics, "followers_count", f"{path}.public_metrics", None),
        verified=_opt_bool(u, "verified", path),
        account_created_at=_iso(u, "created_at", path) if u.get("created_at") else None,
    )


def _v11_author(u: dict[str, Any], path: str) -> Author:
    uid = _id(u, "id_str", path) if "id_str" in u else str(_id(u, "id", path))
    created = u.get("created_at")
    ts = u.get("created_timestamp")
    when = None
    if isinstance(created, str):
        when = _v11_time(created, f"{path}.created_at")
    elif ts is not None:
        try:
            when = datetime.fromtimestamp(int(ts) / 1000, UTC)
        except (TypeError, ValueError):
            raise ParseError("expected epoch milliseconds", f"{path}.created_timestamp") from None
    return Author(
        external_id=uid,
        handle=_opt_str(u, "screen_name", path),
        display_name=_opt_str(u, "name", path),
        followers=_count(u, "followers_count", path, None),
        verified=_opt_bool(u, "verified", path),
        account_created_at=when,
    )


def _engagement(metrics: Any, path: str) -> Engagement | None:
    if metrics is None:
        return None
    if not isinstance(metrics, dict):
        raise ParseError("expected an object", f"{path}.public_metrics")
    p = f"{path}.public_metrics"
    return Engagement(
        likes=_count(metrics, "like_count", p),
        shares=_count(metrics, "retweet_count", p),
        replies=_count(metrics, "reply_count", p),
        quotes=_count(metrics, "quote_count", p),
        views=_count(metrics, "impression_count", p, None),
    )


def _language(lang: Any) -> str | None:
    return lang if isinstance(lang, str) and lang and lang not in _NO_LANGUAGE else None


def _str(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        what = "missing" if value is None else f"expected a string, got {type(value).__name__}"
        raise ParseError(what, f"{path}.{key}")
    return value


def _opt_str(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    return _str(obj, key, path) if obj.get(key) is not None else None


def _id(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = obj.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.isdigit():
        raise ParseError(
            "missing" if value is None else f"not a numeric id: {value!r}", f"{path}.{key}"
        )
    return value


def _list(obj: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ParseError("expected a list", f"{path}.{key}")
    return value


def _opt_bool(obj: Mapping[str, Any], key: str, path: str) -> bool | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, bool):
        raise ParseError("expected true or false", f"{path}.{key}")
    return value


def _count(obj: Mapping[str, Any], key: str, path: str, default: int | None = 0) -> Any:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ParseError("expected a count (an integer >= 0)", f"{path}.{key}")
    return value


def _iso(obj: Mapping[str, Any], key: str, path: str) -> datetime:
    value = _str(obj, key, path)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ParseError(f"not an ISO 8601 time: {value!r}", f"{path}.{key}") from None
    if when.tzinfo is None:
        raise ParseError(f"time without a zone: {value!r}", f"{path}.{key}")
    return when


def _v11_time(value: Any, path: str) -> datetime:
    try:
        return datetime.strptime(str(value), _V11_TIME)
    except ValueError:
        raise ParseError(
            f"not a v1.1 time like 'Wed Feb 05 08:39:31 +0000 2020': {value!r}", path
        ) from None
