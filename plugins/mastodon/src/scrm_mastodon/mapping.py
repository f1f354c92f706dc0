"""Map Mastodon payloads to interactions: statuses, notifications, searches, thread contexts.

A native payload (a line of a JSONL archive, a page the poller read) may be one Status, a
list of them (a timeline page), one Notification or a list of them (only ``mention``
notifications carry a message), a Search result (its ``statuses``) or a Context (its
``ancestors`` and ``descendants``).  :func:`split_payload` cuts any of them into single
statuses, so a bad status is rejected on its own; each interaction's ``raw`` is its status,
which parses again to the same interaction.

Threads: a status that answers nothing is its own thread (``thread_key`` = its id); a reply
carries ``in_reply_to`` and joins the case of the status it answers, whenever that arrives.
A status of the brand's accounts is outbound, so a reply written in the Mastodon app moves
its case as one sent through scrm does.  ``direct`` visibility is a private message.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from scrm.plugin import (
    MAX_TEXT_LENGTH,
    Attachment,
    Author,
    Direction,
    Engagement,
    InboundInteraction,
    ParseError,
)
from scrm_mastodon.content import MAX_HTML_LENGTH, html_to_text

__all__ = ["FOR_ACCOUNT", "ID_PATTERN", "Mapper", "split_payload", "tagged"]

CHANNEL = "mastodon"
#: Mastodon ids are decimal strings; Pleroma and Akkoma use base62 flake ids.
ID_PATTERN = r"^[0-9A-Za-z]{1,64}$"
_ID = re.compile(ID_PATTERN)
VISIBILITIES = ("public", "unlisted", "private", "direct")
_MEDIA = {"image": "image/*", "video": "video/*", "gifv": "video/*", "audio": "audio/*"}
#: Attachments read per status (Mastodon allows 4); more is a hostile payload, cut.
_MAX_ATTACHMENTS = 16
_MAX_MENTIONS = 500
#: The key a poller adds to a status for the brand account that read it.
FOR_ACCOUNT = "for_account"

Item = InboundInteraction | ParseError


def _is_status(obj: Mapping[str, Any]) -> bool:
    return "content" in obj and "account" in obj


def split_payload(payload: Any) -> Iterator[Any]:
    """Yield one status per message in ``payload`` (see the module docstring).

    Notifications other than mentions carry no message and yield nothing; a payload of an
    unknown shape is yielded unchanged, so that parsing it reports why.
    """
    if isinstance(payload, list):
        for item in payload:
            yield from split_payload(item)
        return
    if not isinstance(payload, dict):
        yield payload
        return
    if "type" in payload and "account" in payload and "content" not in payload:
        if payload.get("type") == "mention":  # a Notification
            yield payload.get("status")
        return
    if "statuses" in payload or "ancestors" in payload or "descendants" in payload:
        for key in ("ancestors", "statuses", "descendants"):
            items = payload.get(key)
            yield from items if isinstance(items, list) else ([] if items is None else [items])
        return
    yield payload


def tagged(parts: Iterable[Any], account: str | None) -> Iterator[Any]:
    """Yield ``parts`` (statuses) each naming, as ``for_account``, the brand account that
    read it, so that the channel reads it from that account's point of view."""
    for part in parts:
        yield {**part, FOR_ACCOUNT: account} if account and isinstance(part, dict) else part


class Mapper:
    """Turn statuses into interactions from the point of view of the brand's accounts.

    :param brand_account_ids: the brand's account ids on the instance; their statuses are
        outbound.
    :param account: the brand account's address (``user@instance``), every interaction's
        ``account``; None: not configured.
    """

    def __init__(self, brand_account_ids: Collection[str], account: str | None = None) -> None:
        self.brands = frozenset(brand_account_ids)
        self.account = account

    def parse(self, payload: Any) -> Iterator[InboundInteraction]:
        """Yield the interactions of ``payload``.

        :raises ParseError: naming the first bad status's field (``[2].created_at``); the
            good statuses of the payload are then not yielded, so that the line is kept whole.
        """
        items = list(self.items(payload))
        bad = [i for i in items if isinstance(i, ParseError)]
        if bad:
            more = f" ({len(bad) - 1} more bad statuses on this line)" if len(bad) > 1 else ""
            raise ParseError(bad[0].reason + more, bad[0].field)
        for it in items:
            assert isinstance(it, InboundInteraction)
            yield it

    def items(self, payload: Any) -> Iterator[Item]:
        """Yield an interaction (or a :class:`ParseError`) for every status in ``payload``."""
        parts = list(split_payload(payload))
        single = len(parts) == 1 and parts[0] is payload
        for n, status in enumerate(parts):
            path = "" if single else f"[{n}]"
            try:
                if status is None:
                    raise ParseError("a mention notification without its status", path or None)
                if not isinstance(status, dict):
                    raise ParseError(f"expected a status object, got {type(status).__name__}", path or None)  # fmt: skip
                if not _is_status(status):
                    raise ParseError(
                        "not a Mastodon status (no content and account), notification, search "
                        "result or context",
                        path or None,
                    )
                if isinstance(status.get("reblog"), dict):
                    continue  # a boost repeats someone's status: no message of its own
                yield self.status(status, path)
            except ParseError as exc:
                yield exc
            except ValidationError as exc:
                err = exc.errors(include_url=False)[0]
                loc = ".".join(str(p) for p in err["loc"])
                yield ParseError(f"{err['msg']} (in the mapped interaction's {loc})", path or None)

    def status(self, st: dict[str, Any], path: str = "") -> InboundInteraction:
        """Map one Status.

        :raises ParseError, ValidationError:
        """
        sid = _id(st, "id", path)
        account = _obj(st, "account", path)
        author = _author(account, _join(path, "account"))
        visibility = st.get("visibility", "public")
        if visibility not in VISIBILITIES:
            raise ParseError(f"not one of {', '.join(VISIBILITIES)}: {visibility!r}", _join(path, "visibility"))  # fmt: skip
        content = _str(st, "content", path)
        if len(content) > MAX_HTML_LENGTH:
            raise ParseError(
                f"{len(content)} characters of HTML, over the {MAX_HTML_LENGTH} read",
                _join(path, "content"),
            )
        text = html_to_text(content)
        if len(text) > MAX_TEXT_LENGTH:
            raise ParseError(f"{len(text)} characters, over the {MAX_TEXT_LENGTH} allowed", _join(path, "content"))  # fmt: skip
        parent = _opt_id(st, "in_reply_to_id", path)
        outbound = author.external_id in self.brands
        spoiler = _opt_str(st, "spoiler_text", path)
        return InboundInteraction(
            channel=CHANNEL,
            external_id=sid,
            text=text,
            created_at=_time(st, "created_at", path),
            author=author,
            direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
            public=visibility != "direct",
            thread_key=None if parent else sid,
            in_reply_to=parent,
            language=_language(st.get("language")),
            subject=spoiler[:1000] if spoiler else None,
            recipient=self._recipient(st, path) if outbound else None,
            engagement=Engagement(
                likes=_count(st, "favourites_count", path),
                shares=_count(st, "reblogs_count", path),
                replies=_count(st, "replies_count", path),
                quotes=_count(st, "quotes_count", path),
            ),
            attachments=_attachments(st, path),
            account=self.account,
            raw=st,
        )

    def _recipient(self, st: dict[str, Any], path: str) -> Author | None:
        """The customer a brand status answers or addresses (for direct messages)."""
        mentions = [m for m in _list(st, "mentions", path)[:_MAX_MENTIONS] if isinstance(m, dict)]
        handles = {m.get("id"): m.get("acct") for m in mentions}
        to = _opt_id(st, "in_reply_to_account_id", path)
        if to is None or to in self.brands:
            others = [m.get("id") for m in mentions if m.get("id") not in self.brands]
            to = others[0] if others and isinstance(others[0], str) else None
        if to is None or not _ID.match(to):
            return None
        handle = handles.get(to)
        return Author(external_id=to, handle=handle if isinstance(handle, str) else None)


# -- fields ---------------------------------------------------------------------------------


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _author(a: dict[str, Any], path: str) -> Author:
    created = a.get("created_at")
    return Author(
        external_id=_id(a, "id", path),
        handle=(_opt_str(a, "acct", path) or _opt_str(a, "username", path) or "")[:255] or None,
        display_name=(_opt_str(a, "display_name", path) or "")[:255] or None,
        followers=_count(a, "followers_count", path, None),
        account_created_at=_time(a, "created_at", path) if created else None,
    )


def _attachments(st: dict[str, Any], path: str) -> tuple[Attachment, ...]:
    found = []
    for n, m in enumerate(_list(st, "media_attachments", path)[:_MAX_ATTACHMENTS]):
        where = f"{_join(path, 'media_attachments')}[{n}]"
        if not isinstance(m, dict):
            raise ParseError("expected an object", where)
        url = _opt_str(m, "url", where) or _opt_str(m, "remote_url", where)
        kind = _opt_str(m, "type", where)
        description = _opt_str(m, "description", where)
        found.append(
            Attachment(
                name=description[:1000] if description else None,
                content_type=_MEDIA.get(kind or ""),
                url=url if url and url.startswith(("https://", "http://")) else None,
            )
        )
    return tuple(found)


def _obj(obj: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
    value = obj.get(key)
    if not isinstance(value, dict):
        raise ParseError("missing or not an object", _join(path, key))
    return value


def _str(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        what = "missing" if value is None else f"expected a string, got {type(value).__name__}"
        raise ParseError(what, _join(path, key))
    return value


def _opt_str(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    return _str(obj, key, path) if obj.get(key) is not None else None


def _id(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not _ID.match(value):
        shown = repr(value)[:80]
        raise ParseError("missing" if value is None else f"not an id: {shown}", _join(path, key))
    return value


def _opt_id(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    return _id(obj, key, path) if obj.get(key) is not None else None


def _list(obj: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ParseError("expected a list", _join(path, key))
    return value


def _count(obj: Mapping[str, Any], key: str, path: str, default: int | None = 0) -> Any:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ParseError("expected a count (an integer >= 0)", _join(path, key))
    return value


def _time(obj: Mapping[str, Any], key: str, path: str) -> datetime:
    value = _str(obj, key, path)
    try:
        when = datetime.fromisoformat(value[:64])
    except ValueError:
        raise ParseError(f"not an ISO 8601 time: {value[:64]!r}", _join(path, key)) from None
    if when.tzinfo is None:
        raise ParseError(f"time without a zone: {value[:64]!r}", _join(path, key))
    return when


def _language(lang: Any) -> str | None:
    return lang if isinstance(lang, str) and 0 < len(lang) <= 16 else None
