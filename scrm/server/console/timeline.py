"""What the console shows of a case: one timeline across channels, its SLA clocks, and times
in the reader's time zone (their own, else the configured one).  Presentation only: every value comes from
:class:`~scrm.core.queries.CaseDetail`; nothing here decides anything about a case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from scrm.core.queries import CaseDetail
from scrm.server.console.i18n import N_

__all__ = ["Clock", "Entry", "Times", "clocks", "timeline"]


class Times:
    """Formats instants in one time zone, and deadlines relative to now (``gettext``
    translates the words around a span)."""

    def __init__(
        self, zone: str, now: datetime | None = None, gettext: Callable[[str], str] = str
    ) -> None:
        self.zone = ZoneInfo(zone)
        self.name = zone
        self.now = now or datetime.now(UTC)
        self._ = gettext

    def local(self, at: datetime | None) -> str:
        """``2024-10-21 13:00 +03`` in the zone, labelled with the zone's abbreviation
        (``CET``, ``+03``) so that a time is never read in the wrong zone; empty for no time."""
        if at is None:
            return ""
        if at.tzinfo is None:  # stored UTC (SQLite gives naive values back)
            at = at.replace(tzinfo=UTC)
        return at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M %Z")

    def iso(self, at: datetime | None) -> str:
        """The instant for a ``<time datetime>`` attribute."""
        if at is None:
            return ""
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return at.astimezone(self.zone).isoformat(timespec="minutes")

    def relative(self, at: datetime | None) -> str:
        """``in 2h 05m`` or ``3d 4h ago``."""
        if at is None:
            return ""
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        delta = at - self.now
        text = _span(abs(delta))
        if delta >= timedelta(0):
            return self._("in %(span)s") % {"span": text}
        return self._("%(span)s ago") % {"span": text}

    def past(self, at: datetime | None) -> bool:
        """Whether ``at`` has passed."""
        if at is None:
            return False
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return at <= self.now


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins:02d}m"
    return f"{mins}m"


@dataclass(frozen=True)
class Entry:
    """One line of the timeline; ``kind`` picks how the template shows ``item``."""

    at: datetime
    kind: str
    """``message`` (the customer's), ``brand`` (a brand message written outside scrm),
    ``reply`` (queued through scrm, with its delivery state), ``promise``, ``event``."""
    item: Any


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def timeline(case: CaseDetail) -> list[Entry]:
    """Every message, reply, promise and event of ``case``, oldest first.

    A reply scrm delivered is also stored as the brand's message; it is shown once, as
    the reply (which carries its delivery state).
    """
    delivered = {(r.channel, r.external_id) for r in case.replies if r.external_id}
    entries = [
        Entry(_utc(i.created_at), "message" if i.direction == "inbound" else "brand", i)
        for i in case.interactions
        if i.direction == "inbound" or (i.channel, i.external_id) not in delivered
    ]
    entries += [Entry(_utc(r.created_at), "reply", r) for r in case.replies]
    entries += [Entry(_utc(f.created_at), "promise", f) for f in case.follow_ups]
    entries += [Entry(_utc(e.at), "event", e) for e in case.events]
    order = {"message": 0, "brand": 1, "reply": 2, "promise": 3, "event": 4}
    return sorted(entries, key=lambda e: (e.at, order[e.kind]))


@dataclass(frozen=True)
class Clock:
    """One SLA clock as shown: its name, when it is due, and its state."""

    name: str
    due: datetime | None
    state: str
    """``met`` or ``late`` (done at ``done``), ``running``, ``breached``, ``paused`` or ``off``."""
    done: datetime | None = None


def clocks(case: CaseDetail, times: Times) -> list[Clock]:
    """The case's SLA clocks: first response, promised follow-up, resolution."""

    def state(due: datetime | None, done: datetime | None) -> str:
        if done is not None:
            return "late" if due is not None and _utc(done) > _utc(due) else "met"
        if due is None:
            return "off"
        return "breached" if times.past(due) else "running"

    resolution = state(case.resolution_due, case.resolved_at)
    if resolution == "off" and case.waiting_since is not None:
        resolution = "paused"
    return [
        Clock(
            N_("First response"),
            case.first_response_due,
            state(case.first_response_due, case.first_response_at),
            case.first_response_at,
        ),
        Clock(N_("Promised follow-up"), case.follow_up_due, state(case.follow_up_due, None)),
        Clock(N_("Resolution"), case.resolution_due, resolution, case.resolved_at),
    ]
