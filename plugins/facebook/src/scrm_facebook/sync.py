"""Getting Facebook's messages into scrm: webhook deliveries and catch-up polling.

:func:`receive` is what the HTTP server's ``POST /webhooks/facebook`` route calls: it checks
the signature over the raw bytes, splits the body into one record per event (so a bad event
becomes its own reject) and ingests.  :func:`poll` reads a page's posts and their
comments since the last poll, for what was missed while the service was down;
:func:`poll_pages` polls every configured page, one failing page not stopping the others.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from scrm.plugin import (
    Author,
    ChannelError,
    Direction,
    Engagement,
    InboundInteraction,
    loggable,
)
from scrm.plugin.polling import readable_accounts
from scrm_facebook.channel import FacebookChannel
from scrm_facebook.threads import Conversations, Place

if TYPE_CHECKING:
    from scrm.plugin import IngestReport, Scrm

__all__ = [
    "POST_FIELDS",
    "PollResult",
    "SignatureError",
    "comment_interaction",
    "poll",
    "poll_pages",
    "receive",
]

log = logging.getLogger(__name__)

POST_FIELDS = "id,message,created_time,updated_time,from"
COMMENT_FIELDS = "id,message,created_time,from,parent{id,from},like_count,comment_count"
STATE_PLUGIN = "facebook"


class SignatureError(PermissionError):
    """A webhook POST whose X-Hub-Signature-256 is missing or wrong; nothing was stored."""


def _channel(app: Scrm) -> FacebookChannel:
    ch = app.channel("facebook")
    assert isinstance(ch, FacebookChannel)
    return ch


def receive(app: Scrm, headers: Mapping[str, str], body: bytes) -> IngestReport:
    """Verify and ingest one webhook POST; answer 200 when this returns.

    :raises SignatureError: when the signature is missing or wrong (answer 403).
    """
    ch = _channel(app)
    if not ch.verify(headers, body):
        raise SignatureError("X-Hub-Signature-256 is missing or does not match the app secret")
    try:
        payload: Any = json.loads(body)
    except ValueError:
        payload = body.decode("utf-8", "replace")  # kept whole as a reject
    # Split here too, so each event is its own record (position = event number) whatever
    # the core does with a multi-part payload.
    return app.ingest_native("facebook", ch.split(payload), source="webhook:facebook")


# -- polling -----------------------------------------------------------------------------


def _time(value: Any) -> datetime:
    """Parse a Graph API time (``2024-10-20T09:40:42+0000``)."""
    if not isinstance(value, str):
        raise ValueError(f"not a Graph API time: {value!r}")
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")


def comment_interaction(
    ch: FacebookChannel, post_id: str, obj: Mapping[str, Any], *, place: Place | None = None
) -> InboundInteraction | None:
    """Map a Graph API comment object (from ``/{post-id}/comments``); None without an author.

    :param place: its conversation, as :class:`~scrm_facebook.threads.Conversations` found
        from the post's comments; by default the comment alone decides it.
    """
    sender = obj.get("from")
    if not isinstance(sender, dict) or not sender.get("id"):
        return None
    own = str(sender["id"]) == ch.settings.page_id
    place = place or Conversations(post_id, ch.settings.page_id, [obj]).place(obj)
    return InboundInteraction(
        channel="facebook",
        account=ch.settings.page_id,
        external_id=str(obj["id"]),
        text=str(obj.get("message") or ""),
        created_at=_time(obj.get("created_time")),
        author=Author(external_id=str(sender["id"]), display_name=sender.get("name")),
        direction=Direction.OUTBOUND if own else Direction.INBOUND,
        public=True,
        thread_key=place.thread_key,
        in_reply_to=place.in_reply_to,
        engagement=Engagement(
            likes=int(obj.get("like_count") or 0), replies=int(obj.get("comment_count") or 0)
        ),
        raw={"graph": dict(obj), "post_id": post_id},
    )


def _post_interaction(ch: FacebookChannel, obj: Mapping[str, Any]) -> InboundInteraction | None:
    sender = obj.get("from")
    if not obj.get("message") or not isinstance(sender, dict) or not sender.get("id"):
        return None
    own = str(sender["id"]) == ch.settings.page_id
    return InboundInteraction(
        channel="facebook",
        account=ch.settings.page_id,
        external_id=str(obj["id"]),
        text=str(obj["message"]),
        created_at=_time(obj.get("created_time")),
        author=Author(external_id=str(sender["id"]), display_name=sender.get("name")),
        direction=Direction.OUTBOUND if own else Direction.INBOUND,
        public=True,
        thread_key=str(obj["id"]),
        raw={"graph": dict(obj)},
    )


@dataclass
class PollResult:
    """What one poll of one page read and stored."""

    since: datetime
    page: str = ""
    account: str = ""
    """The page's account label (``default``: the single ``[channels.facebook]`` page)."""
    until: datetime | None = None
    posts: int = 0
    comments: int = 0
    skipped: int = 0
    report: IngestReport | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    """Why the page could not be read (its token was refused, say); None when it was."""


def poll_pages(app: Scrm, *, now: datetime | None = None) -> list[PollResult]:
    """Poll every configured page (``[channels.facebook.accounts.<label>]``) that has a token
    (a brand's application: not the pages of other brands).

    A page whose polling fails (an expired token, Graph failing) gets its ``error`` and the
    others are still read; a single page's failure is raised, as :func:`poll`'s.
    """
    pages = [
        ch
        for ch in readable_accounts(app, _channel(app))
        if ch.settings.page_access_token is not None
    ]
    results = []
    for ch in pages:
        assert isinstance(ch, FacebookChannel)
        try:
            results.append(poll(app, now=now, channel=ch))
        except ChannelError as exc:
            if len(pages) == 1:
                raise
            results.append(
                PollResult(
                    since=now or datetime.now(UTC),
                    page=ch.settings.page_id,
                    account=ch.account_label,
                    error=str(exc),
                )
            )
    return results


def poll(
    app: Scrm, *, now: datetime | None = None, channel: FacebookChannel | None = None
) -> PollResult:
    """Read new posts and comments since the last poll, ingest them, advance the cursor.

    :param channel: the page's account (default: the first configured page).

    The cursor (the newest ``created_time`` seen, under ``("facebook", "feed:<page id>")``)
    is saved after the ingest commits: a crash re-reads, and duplicates are stored once.
    Posts older than ``poll_lookback_days`` before the cursor are not scanned for comments.
    """
    ch = channel or _channel(app)
    key = f"feed:{ch.settings.page_id}"
    now = now or datetime.now(UTC)
    state = app.load_state(STATE_PLUGIN, key) or {}
    lookback = timedelta(days=ch.settings.poll_lookback_days)
    since = datetime.fromtimestamp(state["since"], UTC) if "since" in state else now - lookback
    result = PollResult(since=since, page=ch.settings.page_id, account=ch.account_label)

    def items() -> Iterator[InboundInteraction]:
        client = ch.client()
        feed = client.pages(f"{ch.settings.page_id}/feed", {"fields": POST_FIELDS, "limit": 25})
        for post in feed:
            created = _time(post.get("created_time"))
            updated = _time(post.get("updated_time") or post.get("created_time"))
            if max(created, updated) < since - lookback:
                break  # the feed is newest first
            post_id = str(post["id"])
            if created >= since and (it := _post_interaction(ch, post)) is not None:
                result.posts += 1
                result.until = max(result.until or it.created_at, it.created_at)
                yield it
            comments = client.pages(
                f"{post_id}/comments",
                {
                    "fields": COMMENT_FIELDS,
                    "filter": "stream",
                    "order": "reverse_chronological",
                    "limit": 100,
                },
            )
            # Newest first from Facebook; read the post's new comments, then hand them over
            # oldest first, so that a comment is stored before the replies that answer it.
            fresh: list[tuple[datetime, dict[str, Any]]] = []
            for obj in comments:
                try:
                    at = _time(obj.get("created_time"))
                except ValueError as exc:
                    log.warning("skipping comment %s: %s", obj.get("id"), loggable(exc))
                    result.skipped += 1
                    continue
                if at < since:
                    break
                fresh.append((at, obj))
            fresh.sort(key=lambda pair: pair[0])
            author = Conversations.author(post)
            talk = Conversations(post_id, ch.settings.page_id, [o for _, o in fresh], author)
            for _, obj in fresh:
                try:
                    it = comment_interaction(ch, post_id, obj, place=talk.place(obj))
                except (KeyError, ValueError) as exc:  # ValidationError is a ValueError
                    # A validation error quotes the input (names, text): content, not an id.
                    log.warning("skipping comment %s: %s", obj.get("id"), loggable(exc))
                    it = None
                if it is None:
                    result.skipped += 1
                    continue
                result.comments += 1
                result.until = max(result.until or it.created_at, it.created_at)
                yield it

    result.report = app.ingest(items(), source="poll:facebook")
    if result.skipped:
        result.notes.append(
            f"{result.skipped} comments had no author: the page token needs the MODERATE task"
        )
    if result.until is not None:
        app.save_state(STATE_PLUGIN, key, {"since": int(result.until.timestamp())})
    return result


def poll_task(app: Scrm, now: datetime) -> str:
    """The ``poll:facebook`` task of ``scrm worker``: every page with a token; skip quietly
    until one is set."""
    if "facebook" not in app.config.channels:
        return "not configured (channels.facebook.page_id and page_access_token)"
    results = poll_pages(app, now=now)
    if not results:
        return "not configured (channels.facebook.page_id and page_access_token)"
    return "; ".join(str(r) for r in results)
