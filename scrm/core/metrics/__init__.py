"""Service metrics computed in SQL, for any period and slice, and channel parity.

:func:`build_report` runs the queries in a session and returns a
:class:`~scrm.core.metrics.model.Report`; :func:`generate_report` does it for an
application, with its configuration and plugins, and fires the ``parity_gap`` hook.  The
exact definition of every metric is in ``docs/reports.md``; in short, over a period
``[start, end)``:

* volume and sentiment: the messages created in the period;
* waits for an agent (a phone queue): the period's inbound traditional contacts that record
  ``raw.wait_seconds``;
* response and resolution times, SLA compliance, reopen rate, CSAT and public answers:
  the cases *opened* in the period (merged-away duplicates excluded);
* promises kept or broken: the follow-ups *made* in the period;
* backlog: the cases open at the end of the period (or now, if earlier).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from scrm.core.bounds import check_instant
from scrm.core.errors import N_, InvalidInput
from scrm.core.metrics.compute import TOTAL, CalendarFor, Query, channel_sides, compute
from scrm.core.metrics.model import GroupMetrics, ParityRow, Report
from scrm.core.metrics.sql import DIMENSIONS, Dimension
from scrm.core.schemas import BusinessCalendar, CaseInfo, CaseStatus, Kind, Priority
from scrm.core.tenancy import DEFAULT_BRAND_KEY

if TYPE_CHECKING:
    from scrm.core.app import Scrm
    from scrm.core.plugins import PluginManager

__all__ = [
    "DIMENSIONS",
    "PARITY_METRICS",
    "Dimension",
    "PeriodError",
    "Query",
    "build_report",
    "generate_report",
    "parity",
    "parse_period",
    "parse_since",
    "report_dimensions",
    "traditional_channels",
]

_Getter = Callable[[GroupMetrics], float | None]

#: (name, label, unit, which way is better, how to read it from a slice's metrics).
PARITY_METRICS: list[tuple[str, str, str, str, _Getter]] = [
    ("first_response_median", "First response, median", "seconds", "lower", lambda g: g.first_response.median),
    ("first_response_p90", "First response, p90", "seconds", "lower", lambda g: g.first_response.p90),
    ("first_response_business_median", "First response, median (business time)", "seconds", "lower", lambda g: g.first_response.business_median),
    ("contact_wait_median", "Wait for an agent (phone queue), median", "seconds", "lower", lambda g: g.contact_wait.median),
    ("contact_wait_p90", "Wait for an agent (phone queue), p90", "seconds", "lower", lambda g: g.contact_wait.p90),
    ("resolution_median", "Resolution, median", "seconds", "lower", lambda g: g.resolution.median),
    ("resolution_p90", "Resolution, p90", "seconds", "lower", lambda g: g.resolution.p90),
    ("resolution_business_median", "Resolution, median (business time)", "seconds", "lower", lambda g: g.resolution.business_median),
    ("sla_first_response", "SLA met: first response", "ratio", "higher", lambda g: g.sla["first_response"].compliance),
    ("sla_follow_up", "SLA met: follow-up", "ratio", "higher", lambda g: g.sla["follow_up"].compliance),
    ("sla_resolution", "SLA met: resolution", "ratio", "higher", lambda g: g.sla["resolution"].compliance),
    ("backlog_median_age", "Backlog age, median", "seconds", "lower", lambda g: g.backlog.median_age),
    ("follow_ups_kept", "Promises kept", "ratio", "higher", lambda g: g.follow_ups.kept_rate),
    ("reopen_rate", "Reopen rate", "ratio", "lower", lambda g: g.reopens.rate),
    ("csat_average", "CSAT, average", "score", "higher", lambda g: g.csat.average),
    ("csat_response_rate", "CSAT response rate", "ratio", "higher", lambda g: g.csat.response_rate),
    ("public_answer_share", "Public complaints answered publicly", "ratio", "higher", lambda g: g.public_answers.share),
]  # fmt: skip


def gap(social: float | None, traditional: float | None, unit: str, better: str) -> float | None:
    """Return how much worse (positive) or better (negative) the traditional group is served.

    Ratios differ in percentage points; times and scores in percent of the social value.
    ``None`` when either value is missing, or the social value is zero for a relative gap.
    """
    if social is None or traditional is None:
        return None
    if unit == "ratio":
        diff = (traditional - social) * 100.0
    elif social == 0:
        return 0.0 if traditional == 0 else None
    else:
        diff = (traditional - social) / abs(social) * 100.0
    # + 0.0 turns -0.0 into 0.0
    return (diff if better == "lower" else -diff) + 0.0


def parity(
    channels: list[GroupMetrics], sides: list[GroupMetrics], tolerance: float
) -> list[ParityRow]:
    """Put every parity metric per channel and per side together; flag gaps over ``tolerance``."""
    by_side = {g.key: g for g in sides}
    rows = []
    for name, label, unit, better, get in PARITY_METRICS:
        social = get(by_side["social"]) if "social" in by_side else None
        trad = get(by_side["traditional"]) if "traditional" in by_side else None
        g = gap(social, trad, unit, better)
        rows.append(
            ParityRow(
                metric=name,
                label=label,
                unit=unit,
                better=better,
                channels={str(c.key): get(c) for c in channels},
                social=social,
                traditional=trad,
                gap=g,
                flagged=g is not None and abs(g) > tolerance,
            )
        )
    return rows


def build_report(session: Session, q: Query, *, tolerance: float = 20.0) -> Report:
    """Compute every metric of ``q`` in ``session`` (read only) and assemble the report."""
    c = compute(session, q)
    channels = [c.group("channel", k) for k in c.keys("channel")]
    sides = [c.group("side", s) for s in ("social", "traditional")]
    return Report(
        start=q.start,
        end=q.end,
        as_of=q.as_of,
        by=q.by,
        timezone=q.timezone,
        business_time=c.business_time,
        tolerance_percent=tolerance,
        channel_sides=channel_sides(c.keys("channel"), sorted(q.traditional)),
        groups=[c.group("key", k) for k in c.keys("key")],
        channels=channels,
        sides=sides,
        total=c.group("total", TOTAL),
        daily=c.days("key"),
        daily_channels=c.days("channel"),
        daily_total=c.days("total"),
        top_categories=c.top_categories,
        parity=[
            row
            for row in parity(channels, sides, tolerance)
            if c.business_time or "business" not in row.metric
        ],
    )


def traditional_channels(app: Scrm) -> frozenset[str]:
    """Channels counted as traditional: installed channels with ``social = False``, and the
    configured defaults that no installed plugin declares social."""
    installed = app.hooks.channels
    found = {name for name, cls in installed.items() if not cls.social}
    found |= {n for n in app.config.report.traditional_channels if n not in installed}
    return frozenset(found)


def _calendar_for(app: Scrm, start: datetime) -> CalendarFor:
    fixed = app.config.report.business_calendar
    cache: dict[tuple[str | None, ...], BusinessCalendar | None] = {}

    def calendar_for(combo: tuple[str | None, ...]) -> BusinessCalendar | None:
        if fixed is not None:
            return fixed
        if combo not in cache:
            channel, department, kind, category, priority, language, brand = combo
            try:
                info = CaseInfo(
                    id=None,
                    customer_id=0,
                    channel=channel or "",
                    department=department,
                    kind=Kind(kind or ""),
                    category=category or "",
                    priority=Priority(priority or ""),
                    status=CaseStatus.NEW,
                    language=language,
                    opened_at=start,
                    brand=brand or DEFAULT_BRAND_KEY,
                )
            except ValueError:
                cache[combo] = None
            else:
                policy = app.hooks.choose_sla(info)
                cache[combo] = policy.calendar if policy is not None else None
        return cache[combo]

    return calendar_for


def report_dimensions(pm: PluginManager) -> dict[str, Dimension]:
    """The slices a report offers: the core's (:data:`DIMENSIONS`) and the plugins'
    (``register_report_dimensions``; the marketing module's ``campaign``), in that order."""
    found = dict(DIMENSIONS)

    def register(dimension: Dimension) -> None:
        if dimension.name in found:
            raise ValueError(f"report slice {dimension.name!r} is registered twice")
        found[dimension.name] = dimension

    pm.hook.register_report_dimensions(register=register)
    return found


def generate_report(
    app: Scrm,
    *,
    start: datetime,
    end: datetime,
    by: str = "channel",
    now: datetime | None = None,
    notify: bool = True,
    brand: str | None = None,
) -> Report:
    """Build the report of ``[start, end)`` for ``app`` and fire ``parity_gap`` for each gap.

    The report covers what ``app`` sees: one brand's data for an application limited to it
    (:meth:`Scrm.for_brand`), every brand's for the agency's.

    :param by: a slice name of :func:`report_dimensions` (``brand``: a slice per brand).
    :param brand: report on this brand only (a brand's key).
    :param now: the current time (tests pass a fixed one); backlog and running clocks are
        measured at ``min(end, now)``.
    :param notify: fire the ``parity_gap`` hook for flagged metrics.
    """
    app = app.for_brand(brand)
    now = now or datetime.now(UTC)
    dimensions = report_dimensions(app.pm)
    if by not in dimensions:
        raise ValueError(f"unknown slice {by!r}; choose one of {', '.join(dimensions)}")
    q = Query(
        start=start,
        end=end,
        now=now,
        by=by,
        dimension=dimensions[by],
        timezone=app.timezone,
        traditional=traditional_channels(app),
        calendar_for=_calendar_for(app, start),
    )
    with app.session(read_only=True) as s:
        report = build_report(s, q, tolerance=app.config.report.parity_tolerance_percent)
    if notify:
        for row in report.parity:
            if row.flagged and row.social is not None and row.traditional is not None:
                app.hooks.notify(
                    "parity_gap",
                    metric=row.metric,
                    social=row.social,
                    traditional=row.traditional,
                    gap=row.gap,
                )
    return report


_SINCE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> timedelta:
    """Parse ``30d``, ``12h``, ``2w`` or ``90m`` into a duration.

    :raises ValueError: with a sentence naming the accepted forms.
    """
    m = _SINCE.match(text) if len(text) <= 32 else None
    if not m:
        raise ValueError(f"{text[:32]!r} is not a duration like 30d, 12h, 2w or 90m")
    span = timedelta(**{_UNITS[m[2]]: min(int(m[1]), _MAX_SPAN_DAYS * 24 * 60)})
    if span > _MAX_SPAN:
        raise ValueError(f"{text!r} is longer than {_MAX_SPAN_DAYS // 365} years")
    return span


_MAX_SPAN_DAYS = 150 * 365
_MAX_SPAN = timedelta(days=_MAX_SPAN_DAYS)


def _instant(text: str, zone: ZoneInfo, *, end: bool, name: str) -> datetime:
    shown = repr(text[:40])
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            t = datetime.combine(d, time(0), zone)
            if end:  # a date as the end means "up to and including that day"
                t = t + timedelta(days=1) if d < date.max else t
        else:
            t = datetime.fromisoformat(text)
            t = t if t.tzinfo else t.replace(tzinfo=zone)
    except ValueError:
        raise PeriodError(
            N_("%(shown)s is not a date (2024-10-31) or a time (2024-10-31T18:00+03:00)"),
            name,
            shown=shown,
        ) from None
    try:
        return check_instant(t)
    except ValueError as exc:
        raise PeriodError(N_("%(shown)s %(reason)s"), name, shown=shown, reason=exc) from None


def parse_period(
    *,
    since: str | None,
    start: str | None,
    end: str | None,
    timezone: str,
    now: datetime,
) -> tuple[datetime, datetime]:
    """Turn ``--since``/``--from``/``--to`` into ``[start, end)`` in UTC.

    Dates are local midnights in ``timezone``; an end date includes its whole day.  Without
    ``--from``, the period is ``since`` (default 30 days) before the end; without ``--to``,
    the end is now.
    """
    zone = ZoneInfo(timezone)
    stop = _instant(end, zone, end=True, name="to") if end else now
    if start:
        if since:
            raise PeriodError(N_("give either --since or --from, not both"), "since")
        begin = _instant(start, zone, end=False, name="from")
    else:
        try:
            begin = stop - parse_since(since or "30d")
        except ValueError as exc:
            raise PeriodError(str(exc), "since") from None
    if begin >= stop:
        raise PeriodError(
            N_("the period is empty: %(begin)s is not before %(end)s"),
            "from" if start else "since",
            begin=begin.isoformat(),
            end=stop.isoformat(),
        )
    return begin.astimezone(UTC), stop.astimezone(UTC)


class PeriodError(InvalidInput):
    """A ``--since``/``--from``/``--to`` value that cannot be used; ``field`` names which."""
