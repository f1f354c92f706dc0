"""The native record of one feed item, and its interaction.

The poller writes one record per matching item; it is what ``scrm ingest --channel feeds``
reads back, what a reject keeps, and the interaction's ``raw``::

    {"source": "sikayet-blog", "feed_url": "https://blog.example/feed", "feed_title": "...",
     "site": "https://blog.example/", "language": "tr", "id": "https://blog.example/?p=42",
     "link": "https://blog.example/2024/10/acme", "title": "...", "text": "...",
     "published": "2024-10-21T08:00:00+00:00", "updated": null,
     "author": {"name": "Ayşe", "url": "https://blog.example/author/ayse", "email": null},
     "views": null, "matched": ["acme"], "fetched_at": "2024-10-21T09:00:00+00:00"}
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from scrm.plugin import (
    MAX_TEXT_LENGTH,
    Author,
    Engagement,
    InboundInteraction,
)

if TYPE_CHECKING:
    from scrm_feeds.parse import ParsedFeed, ParsedItem

__all__ = ["CHANNEL", "FeedAuthor", "FeedRecord", "record_for"]

CHANNEL = "feeds"
#: Item dates past this far ahead of the fetch are wrong clocks or typos: the fetch time is used.
FUTURE_SLACK = timedelta(days=1)
EPOCH_FLOOR = datetime(1970, 1, 2, tzinfo=UTC)
#: Local parts of addresses that stand for no one (a platform's placeholder for every author).
_NOBODY = frozenset({"noreply", "donotreply", "nobody", "nospam", "invalid", "unknown"})


def _http(url: str | None) -> str | None:
    if url and urlsplit(url).scheme in ("http", "https") and len(url) <= 2048:
        return url
    return None


def _fit(value: str, limit: int = 255) -> str:
    """Return ``value``, or a digest of it when it is longer than a stored id may be."""
    if len(value) <= limit:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


class FeedAuthor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=1000)
    url: str | None = Field(default=None, max_length=8192)
    email: str | None = Field(default=None, max_length=1000)


class FeedRecord(BaseModel):
    """One item as the poller found it (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=64)
    feed_url: str = Field(max_length=8192)
    feed_title: str | None = Field(default=None, max_length=1000)
    site: str | None = Field(default=None, max_length=8192)
    language: str | None = Field(default=None, max_length=64)
    id: str = Field(min_length=1, max_length=8192)
    link: str | None = Field(default=None, max_length=8192)
    title: str | None = Field(default=None, max_length=10_000)
    text: str = Field(max_length=MAX_TEXT_LENGTH * 2)
    published: AwareDatetime | None = None
    updated: AwareDatetime | None = None
    date_text: str | None = Field(default=None, max_length=200)
    author: FeedAuthor = FeedAuthor()
    views: int | None = Field(default=None, ge=0, lt=2**63)
    matched: list[str] = Field(default_factory=list, max_length=1000)
    fetched_at: AwareDatetime

    def created_at(self) -> datetime:
        """When the item was written; the fetch time when the feed gives no usable date."""
        for when in (self.published, self.updated):
            if when is not None and EPOCH_FLOOR <= when <= self.fetched_at + FUTURE_SLACK:
                return when
        return self.fetched_at

    def author_identity(self) -> Author:
        """The item's author: by profile URL, else e-mail address, else name on the site."""
        a = self.author
        name = (a.name or "").strip()[:255] or None
        email = a.email if a.email and "@" in a.email and len(a.email) <= 320 else None
        if email and email.split("@")[0].lower().replace("-", "").replace("_", "") in _NOBODY:
            email = None  # Blogger's noreply@blogger.com would make every author one customer
        profile = _http(a.url)
        if profile:
            key = profile
        elif email:
            key = f"mailto:{email.lower()}"
        else:  # a person known by name on one site; else the site (a one-author blog) itself
            site = self.site or self.feed_url
            key = f"{site}#author={name}" if name else site
        try:
            return Author(external_id=_fit(key), display_name=name, email=email)
        except ValueError:  # an address the schema refuses: keep the person, drop the address
            return Author(external_id=_fit(key), display_name=name)

    def to_interaction(self, raw: dict[str, Any]) -> InboundInteraction:
        title = (self.title or "").strip()
        text = self.text.strip()
        body = f"{title}\n\n{text}" if title and text and not text.startswith(title) else text
        body = (body or title or self.link or self.id)[:MAX_TEXT_LENGTH]
        link = _http(self.link)
        lang = (self.language or "").split("-")[0].lower()[:16] or None
        return InboundInteraction(
            channel=CHANNEL,
            account=self.source,
            external_id=_fit(self.id),
            text=body,
            created_at=self.created_at(),
            author=self.author_identity(),
            public=True,
            thread_key=_fit(f"feed:{link or self.id}"),
            language=lang if lang and lang.isalpha() else None,
            subject=title[:1000] or None,
            engagement=Engagement(views=self.views) if self.views is not None else None,
            answer_url=link or _http(self.site),
            raw=raw,
        )


def item_id(feed: ParsedFeed, item: ParsedItem, source: str) -> str | None:
    """Return the item's stable id: its guid/id when global (a URL, a URN), else its link.

    A bare guid such as ``"42"`` means something only inside its feed, so it is qualified by
    the site (or the source's name).
    """
    if item.id and ":" in item.id:
        return item.id
    if item.link:
        return item.link
    if item.id:
        return f"{feed.link or source}#{item.id}"
    return None


def record_for(
    source: str, feed_url: str, feed: ParsedFeed, item: ParsedItem, *, fetched_at: datetime,
    matched: list[str],
) -> dict[str, Any] | None:  # fmt: skip
    """Return the native record of ``item``, or None when it has no id, link or text at all."""
    ident = item_id(feed, item, source)
    if ident is None:
        return None
    return {
        "source": source,
        "feed_url": feed_url,
        "feed_title": feed.title,
        "site": feed.link,
        "language": feed.language,
        "id": ident,
        "link": item.link,
        "title": item.title,
        "text": item.text[: MAX_TEXT_LENGTH * 2],
        "published": item.published.isoformat() if item.published else None,
        "updated": item.updated.isoformat() if item.updated else None,
        "date_text": (item.date_text or "")[:200] or None,
        "author": {"name": item.author_name, "url": item.author_url, "email": item.author_email},
        "views": item.views,
        "matched": matched,
        "fetched_at": fetched_at.isoformat(),
    }
