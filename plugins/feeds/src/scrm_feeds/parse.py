"""Turn the bytes of a feed (RSS 0.9x/1.0/2.0, Atom, JSON Feed) into plain items.

XML goes through feedparser, after a guard that refuses entity declarations other than
single characters: feedparser already drops nested (billion laughs) entities and never reads
external ones, but a long plain entity referenced a million times (quadratic blow-up) would
still reach expat.  JSON Feed is read with :mod:`json`.  Nothing here touches the network or
the database; the caller bounds the size of what it hands over.
"""

from __future__ import annotations

import calendar
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

__all__ = ["FeedError", "ParsedFeed", "ParsedItem", "html_to_text", "parse_feed"]


class FeedError(Exception):
    """The document is not a feed this plugin can read; the message says why."""


@dataclass(frozen=True)
class ParsedItem:
    """One entry of a feed, in plain strings (``None`` where the feed says nothing)."""

    id: str | None
    link: str | None
    title: str | None
    text: str
    published: datetime | None
    updated: datetime | None
    author_name: str | None = None
    author_url: str | None = None
    author_email: str | None = None
    views: int | None = None
    date_text: str | None = None
    """The feed's own spelling of the date when it could not be read (a bad date)."""


@dataclass(frozen=True)
class ParsedFeed:
    """A feed's title, site link, language and items, and how it was read."""

    format: str
    title: str | None
    link: str | None
    language: str | None
    items: list[ParsedItem] = field(default_factory=list)
    warning: str | None = None
    """Set when the XML was not well-formed and was read leniently."""


_ENTITY_RE = re.compile(rb"<!ENTITY")
# A declaration that stands for one character (&nbsp; as &#160;) cannot amplify anything.
_CHAR_ENTITY_RE = re.compile(
    rb"""<!ENTITY\s{1,20}[\w.:-]{1,64}\s{1,20}(?:"&#x?[0-9a-fA-F]{1,8};"|'&#x?[0-9a-fA-F]{1,8};')\s{0,20}>"""
)
_DOCTYPE_MARKERS = tuple(
    b"<!DOCTYPE".decode().encode(enc) for enc in ("utf-8", "utf-16-le", "utf-16-be")
)


def _check_entities(data: bytes) -> None:
    """Refuse a document that declares entities other than single characters.

    :raises FeedError: naming the attack it looks like.
    """
    for marker in _DOCTYPE_MARKERS[1:]:
        if marker in data:  # UTF-16: too rare in feeds to be worth a second parser
            enc = "utf-16-le" if marker == _DOCTYPE_MARKERS[1] else "utf-16-be"
            data = data.decode(enc, "replace").encode("utf-8")
            break
    start = data.find(_DOCTYPE_MARKERS[0])
    if start < 0:
        return
    declared = len(_ENTITY_RE.findall(data, start))
    if declared and declared != len(_CHAR_ENTITY_RE.findall(data, start)):
        raise FeedError(
            "the document declares XML entities that expand to text (<!ENTITY ...>); it is "
            "refused because entity expansion is a known denial-of-service attack"
        )


def parse_feed(data: bytes, content_type: str | None = None, *, max_items: int = 500) -> ParsedFeed:
    """Parse ``data`` as JSON Feed (by content type or a leading ``{``) or as RSS/Atom.

    :param max_items: keep at most this many items (the first ones: feeds list newest first).
    :raises FeedError: when it is neither, or is hostile.
    """
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    ctype = (content_type or "").split(";")[0].strip().lower()
    if head.startswith(b"{") or ctype in ("application/feed+json", "application/json"):
        return _parse_json_feed(data, max_items)
    _check_entities(data)
    import feedparser  # here: it is slow to import, and reading settings needs none of it

    try:
        d = feedparser.parse(
            data, response_headers={"content-type": content_type} if content_type else None
        )
    except (RecursionError, MemoryError, ValueError) as exc:  # pragma: no cover - defensive
        raise FeedError(f"the feed could not be read: {type(exc).__name__}") from None
    if not d.get("version"):
        reason = d.get("bozo_exception")
        raise FeedError(
            "not an RSS, Atom or JSON feed"
            + (f" ({_one_line(reason)})" if reason else " (no feed element found)")
        )
    fd = d.get("feed", {})
    items = [_item(e) for e in d.get("entries", [])[:max_items]]
    warning = _one_line(d["bozo_exception"]) if d.get("bozo") else None
    return ParsedFeed(
        format=str(d["version"]),
        title=_str(fd.get("title")),
        link=_str(fd.get("link")),
        language=_str(fd.get("language")),
        items=items,
        warning=warning,
    )


def _item(e: Any) -> ParsedItem:
    body = ""
    content = e.get("content")
    if isinstance(content, list) and content:
        body = " ".join(_str(c.get("value")) or "" for c in content if isinstance(c, dict))
    if not body.strip():
        body = _str(e.get("summary")) or ""
    detail = e.get("author_detail") or {}
    stats = e.get("media_statistics") or {}
    published, updated = _when(e, "published"), _when(e, "updated")
    date_text = None
    if published is None and updated is None:
        date_text = _str(dict.get(e, "published") or dict.get(e, "updated"))
    return ParsedItem(
        id=_str(e.get("id")),
        link=_str(e.get("link")),
        title=_str(html_to_text(e["title"])) if e.get("title") else None,
        text=html_to_text(body),
        published=published,
        updated=updated,
        author_name=_str(detail.get("name")) or _str(e.get("author")),
        author_url=_str(detail.get("href")),
        author_email=_str(detail.get("email")),
        views=_int(stats.get("views")),
        date_text=date_text,
    )


def _when(e: Any, key: str) -> datetime | None:
    # dict.get: FeedParserDict would answer "updated" with "published" (and warn about it).
    parsed = dict.get(e, f"{key}_parsed")
    if not isinstance(parsed, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, OSError, ValueError):
        return None


# -- JSON Feed (https://www.jsonfeed.org/version/1.1/) ---------------------------------------


def _parse_json_feed(data: bytes, max_items: int) -> ParsedFeed:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise FeedError(f"not valid JSON: {_one_line(exc)}") from None
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        raise FeedError("JSON, but not a JSON Feed (no version https://jsonfeed.org/version/1.x)")
    raw_items = doc.get("items")
    if not isinstance(raw_items, list):
        raise FeedError("a JSON Feed needs an items array")
    feed_authors = _json_authors(doc)
    items = []
    for it in raw_items[:max_items]:
        if not isinstance(it, dict):
            continue
        authors = _json_authors(it) or feed_authors
        author = authors[0] if authors else {}
        html = _str(it.get("content_html"))
        text = _str(it.get("content_text")) or (html_to_text(html) if html else "")
        published = _iso(it.get("date_published"))
        updated = _iso(it.get("date_modified"))
        bad = None if (published or updated) else _str(it.get("date_published"))
        items.append(
            ParsedItem(
                id=_str(it.get("id")),
                link=_str(it.get("url")) or _str(it.get("external_url")),
                title=_str(it.get("title")),
                text=text or _str(it.get("summary")) or "",
                published=published,
                updated=updated,
                author_name=_str(author.get("name")),
                author_url=_str(author.get("url")),
                date_text=bad,
            )
        )
    return ParsedFeed(
        format="json" + str(doc["version"]).rsplit("/", 1)[-1].replace(".", ""),
        title=_str(doc.get("title")),
        link=_str(doc.get("home_page_url")),
        language=_str(doc.get("language")),
        items=items,
    )


def _json_authors(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """Authors of a JSON Feed object: ``authors`` (1.1) or ``author`` (1.0)."""
    found = obj.get("authors")
    if isinstance(found, list):
        return [a for a in found if isinstance(a, dict)]
    one = obj.get("author")
    return [one] if isinstance(one, dict) else []


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(UTC) if when.tzinfo else None


# -- small helpers -----------------------------------------------------------------------------


def _str(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def _int(value: Any) -> int | None:
    try:
        n = int(value)
    except (TypeError, ValueError):
        return None
    return n if 0 <= n < 2**63 else None


def _one_line(exc: Any) -> str:
    return " ".join(str(exc).split())[:300]


class _Text(HTMLParser):
    """Collect the text of an HTML fragment: block elements become line breaks."""

    BLOCKS = frozenset({"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "blockquote", "pre"})
    SKIP = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Return the readable text of an HTML fragment: tags dropped, spaces squeezed per line."""
    if "<" not in html and "&" not in html:
        return " ".join(html.split())
    p = _Text()
    p.feed(html)
    p.close()
    lines = (" ".join(line.split()) for line in "".join(p.parts).splitlines())
    return "\n".join(line for line in lines if line)
