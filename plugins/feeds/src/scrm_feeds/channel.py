"""The feeds channel: sources to poll, the brand's terms, and the item record's interaction.

Settings live under ``[channels.feeds]`` in ``scrm.toml``, one ``[[channels.feeds.sources]]``
table per feed.  Feed items are public posts that scrm cannot answer: each interaction
carries its page as ``answer_url``, ``scrm reply`` is refused naming it, and the agent
records the answer given there with ``scrm case answered``.

A feed item's ``account`` is the name of the source it was read from: ``[brands.<key>]
accounts = {feeds = ["sikayet-blog"]}`` puts a source's items in that brand.  Brands with
terms of their own are ``[channels.feeds.accounts.<label>]`` tables, each with its
``terms`` and ``sources`` (source names unique over all of them).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scrm.plugin import Channel, InboundInteraction, OutboundMessage, PermanentSendError, SendResult
from scrm_feeds.mapping import CHANNEL, FeedRecord

__all__ = ["FeedSource", "FeedsChannel", "FeedsSettings"]


class FeedSource(BaseModel):
    """One feed: where it is, how often to read it, and whether every item is about the brand."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$",
        description="Short unique name (its state key and the ingest source), e.g. 'sikayet-blog'.",
    )
    url: str | None = Field(
        default=None,
        max_length=2048,
        description="The feed's http(s) URL: RSS 0.9x/1.0/2.0, Atom or JSON Feed.",
    )
    path: str | None = Field(
        default=None,
        max_length=4096,
        description="A feed file on disk instead of a URL (an export, the demo); relative to "
        "the working directory.",
    )
    interval: float = Field(
        default=900.0, ge=60, le=7 * 86_400, description="Seconds between two reads of this feed."
    )
    match_all: bool = Field(
        default=False,
        description="Take every item, not only those naming a term: a feed that is about the "
        "brand already (an alert service's, a complaint site's brand page).",
    )
    terms: list[str] = Field(
        default_factory=list,
        description="Extra terms for this feed only, on top of channels.feeds.terms.",
    )
    enabled: bool = True

    @model_validator(mode="after")
    def _one_location(self) -> FeedSource:
        if bool(self.url) == bool(self.path):
            raise ValueError("give exactly one of url (http or https) or path")
        if self.url and urlsplit(self.url).scheme not in ("http", "https"):
            raise ValueError("url must start with http:// or https://")
        return self

    @property
    def location(self) -> str:
        """The URL, or the file's absolute ``file:`` URI."""
        return self.url or Path(self.path or "").resolve().as_uri()


class FeedsChannel(Channel):
    """Items of RSS, Atom and JSON feeds (blogs, news, forums, YouTube, alerts) naming the brand."""

    name = CHANNEL
    social = True

    class Settings(Channel.Settings):
        """``[channels.feeds]``: the brand's terms, the feeds, and the limits of one read."""

        terms: list[str] = Field(
            default_factory=list,
            description="Brand and product names, misspellings and handles; an item is taken "
            "when its title or text names one as whole words, compared the Turkish way "
            "(İstanbul = ISTANBUL = istanbul, ı/I, with or without Turkish letters).",
        )
        sources: list[FeedSource] = Field(default_factory=list, description="The feeds to read.")
        # Tag soup costs feedparser's lenient reader ~2.5 s of CPU a MiB (bench/feeds.py):
        # 2 MiB holds any real feed (WordPress and YouTube send 10 to 15 items).
        max_bytes: int = Field(
            default=2 * 1024 * 1024,
            ge=1024,
            le=100 * 1024 * 1024,
            description="Largest feed document read; a larger one is that source's error.",
        )
        max_items: int = Field(
            default=500, ge=1, le=10_000, description="Items read from one document at most."
        )
        timeout: float = Field(default=20.0, gt=0, le=300, description="HTTP timeout in seconds.")
        max_backoff: float = Field(
            default=86_400.0,
            ge=60,
            description="Longest pause after repeated errors of one source (seconds): the "
            "interval doubles with each consecutive error up to this.",
        )
        user_agent: str = Field(
            default="scrm-feeds/0.1 (feed reader)",
            max_length=255,
            description="User-Agent header sent to feed servers.",
        )

        @model_validator(mode="after")
        def _unique_names(self) -> FeedsChannel.Settings:
            names = [s.name for s in self.sources]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"source names must be unique: {', '.join(dupes)}")
            return self

    settings: Settings

    def account_ids(self) -> tuple[str, ...]:
        """The names of this account's sources: what their items carry in ``account``."""
        return tuple(s.name for s in self.settings.sources)

    def sources(
        self, accounts: Sequence[FeedsChannel] | None = None
    ) -> list[tuple[FeedSource, FeedsChannel.Settings]]:
        """Every account's sources (of ``accounts``, default all), each with its account's
        settings (terms, limits).

        :raises ValueError: when two accounts have a source of the same name (one cursor).
        """
        accounts = self.accounts() if accounts is None else accounts
        found = [(src, ch.settings) for ch in accounts for src in ch.settings.sources]
        names = [src.name for src, _ in found]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(
                f"two accounts have feed source {dupes[0]!r}; give them distinct names"
            )
        return found

    def parse(self, payload: Any) -> Iterator[InboundInteraction]:
        """Yield the interaction of one item record (see :mod:`scrm_feeds.mapping`)."""
        yield FeedRecord.model_validate(payload).to_interaction(payload)

    def send(self, message: OutboundMessage) -> SendResult:
        """Refuse: scrm cannot post on a blog, a news site or a YouTube page."""
        thread = (message.thread_key or "").removeprefix("feed:")
        where = message.metadata.get("answer_url") or thread or "the item's page"
        raise PermanentSendError(
            f"scrm cannot post on a feed item: answer on the page itself ({where}) and record "
            f"it with `scrm case answered {message.case_id or 'CASE_ID'} --text ...`"
        )


FeedsSettings = FeedsChannel.Settings
