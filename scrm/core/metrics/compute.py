"""The metrics queries: a handful of GROUP BY statements per report, rolled up in Python.

Each additive quantity (counts, sums) is computed once, grouped by (slice key, channel);
Python adds those few rows up into the slices, the channels, the social and traditional
sides and the total.  Percentiles are not additive: the durations of the period's cases
(first response and resolution together) and the backlog's ages each get one statement
that answers every grouping at once (:func:`scrm.core.metrics.sql.percentiles`).  Five
statements in all (more with business time):

1. the period's cases with their SLA alerts, promises and public messages, by (slice,
   channel, category): every count and sum of the cases, and the top categories;
2. the period's first-response and resolution durations: percentiles;
3. the backlog at ``as_of``: count and ages' percentiles;
4. promises made in the period;
5. messages in the period, per local day, with the waits recorded on the traditional
   contacts (``raw.wait_seconds``) as one string per group.

No query returns one row per case or per message: the percentile statements return each
(slice, channel) group's durations as one string, which Python sorts (one integer per case
held), except the business-time pass, which reads the period's cases in keyset-paged
batches (bounded memory) when a business calendar applies.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from scrm.core.db import UTCDateTime
from scrm.core.metrics.business import business_percentiles
from scrm.core.metrics.model import (
    Backlog,
    Csat,
    DayPoint,
    Durations,
    FollowUps,
    GroupMetrics,
    PublicAnswers,
    Reopens,
    SlaClock,
)
from scrm.core.metrics.sql import (
    DIMENSIONS,
    Dimension,
    Groupings,
    Runs,
    concat_values,
    epoch,
    grouped_values,
    parse_values,
    percentiles,
    percentiles_of,
    wait_seconds,
)
from scrm.core.models import Case, FollowUp, Interaction, SlaAlert
from scrm.core.schemas import BusinessCalendar

__all__ = ["CalendarFor", "Computed", "Query", "compute"]

#: ``(channel, department, kind, category, priority, language) -> calendar or None``.
CalendarFor = Callable[[tuple[str | None, ...]], BusinessCalendar | None]

HISTOGRAM = (
    ("< 15 min", 0, 900),
    ("15 min - 1 h", 900, 3600),
    ("1 - 4 h", 3600, 4 * 3600),
    ("4 - 24 h", 4 * 3600, 86400),
    ("> 1 day", 86400, None),
)
NO_RESPONSE = "no response"
#: A recorded wait longer than a day is a typing error, not a queue: it is left out.
MAX_WAIT = 86400
TOTAL = "all"
#: Days per statement of the daily series: three parameters per day stay under SQLite's
#: historical limit of 999 host parameters.
DAYS_PER_STATEMENT = 300
Key = tuple[str, str | None]  # (namespace, slice key); namespaces: key, channel, side, total


@dataclass(frozen=True)
class Query:
    """What to compute: the period ``[start, end)``, the slice, and the context."""

    start: datetime
    end: datetime
    now: datetime
    by: str = "channel"
    timezone: str = "UTC"
    dimension: Dimension | None = None
    """The slice's definition; None: the core's slice named ``by`` (:data:`DIMENSIONS`)."""
    traditional: frozenset[str] = frozenset()
    calendar_for: CalendarFor | None = None

    @property
    def as_of(self) -> datetime:
        """The instant the backlog and running clocks are measured at."""
        return min(self.end, self.now)


@dataclass
class Computed:
    """Raw results: additive sums and percentiles per (namespace, key), and per day."""

    sums: dict[Key, dict[str, float]] = field(default_factory=lambda: defaultdict(_zero))
    pct: dict[str, dict[Key, tuple[int, float | None, float | None]]] = field(default_factory=dict)
    daily: dict[tuple[str, str | None, date], dict[str, float]] = field(
        default_factory=lambda: defaultdict(_zero)
    )
    top_categories: list[tuple[str, int]] = field(default_factory=list)
    business_time: bool = False

    def group(self, ns: str, key: str | None) -> GroupMetrics:
        """Assemble every metric of one grouping."""
        v = self.sums.get((ns, key), _zero())

        def dur(metric: str) -> Durations:
            n, med, p90 = self.pct.get(metric, {}).get((ns, key), (0, None, None))
            _bn, bmed, bp90 = self.pct.get("b_" + metric, {}).get((ns, key), (0, None, None))
            return Durations(
                count=n,
                median=med,
                p90=p90,
                business_median=bmed if self.business_time else None,
                business_p90=bp90 if self.business_time else None,
            )

        sla = {}
        for clock, pre in (("first_response", "fr"), ("follow_up", "fu"), ("resolution", "res")):
            met, breached = int(v[pre + "_met"]), int(v[pre + "_breached"])
            sla[clock] = SlaClock(
                met=met,
                breached=breached,
                pending=int(v[pre + "_app"]) - met - breached,
                compliance=_ratio(met, met + breached),
            )
        _age_n, age_med, age_p90 = self.pct.get("age", {}).get((ns, key), (0, None, None))
        hist = {label: int(v["h" + str(i)]) for i, (label, _, _) in enumerate(HISTOGRAM)}
        hist[NO_RESPONSE] = int(v["cases"] - v["responded"])
        return GroupMetrics(
            key=key,
            volume_in=int(v["volume_in"]),
            volume_out=int(v["volume_out"]),
            cases_opened=int(v["cases"]),
            first_response=dur("fr"),
            contact_wait=dur("wait"),
            resolution=dur("res"),
            sla=sla,
            backlog=Backlog(count=int(v["backlog"]), median_age=age_med, p90_age=age_p90),
            follow_ups=FollowUps(
                kept=int(v["kept"]),
                broken=int(v["broken"]),
                open=int(v["open"]),
                kept_rate=_ratio(v["kept"], v["kept"] + v["broken"]),
            ),
            reopens=Reopens(
                reopened=int(v["reopened"]),
                eligible=int(v["reopen_eligible"]),
                rate=_ratio(v["reopened"], v["reopen_eligible"]),
            ),
            csat=Csat(
                average=_ratio(v["csat_sum"], v["csat_rated"]),
                rated=int(v["csat_rated"]),
                asked=int(v["csat_asked"]),
                response_rate=_ratio(v["csat_rated"], v["csat_asked"]),
            ),
            public_answers=PublicAnswers(
                complaints=int(v["pub"]),
                answered=int(v["pub_answered"]),
                share=_ratio(v["pub_answered"], v["pub"]),
            ),
            sentiment_average=_ratio(v["sent_sum"], v["sent_n"]),
            response_histogram=hist,
        )

    def keys(self, ns: str) -> list[str | None]:
        """The keys seen in namespace ``ns``, sorted (None last)."""
        found = {k for (n, k) in self.sums if n == ns}
        return sorted(found, key=lambda k: (k is None, k or ""))

    def days(self, ns: str) -> list[DayPoint]:
        """The daily series of namespace ``ns``, by day then key."""
        out = []
        for (n, key, day), v in self.daily.items():
            if n != ns:
                continue
            out.append(
                DayPoint(
                    day=day,
                    key=key,
                    volume_in=int(v["volume_in"]),
                    volume_out=int(v["volume_out"]),
                    sentiment_count=int(v["sent_n"]),
                    sentiment_average=_ratio(v["sent_sum"], v["sent_n"]),
                    positive=int(v["pos"]),
                    neutral=int(v["neu"]),
                    negative=int(v["neg"]),
                )
            )
        out.sort(key=lambda p: (p.day, p.key is None, p.key or ""))
        return out


def _zero() -> dict[str, float]:
    return defaultdict(float)


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _sum(cond: ColumnElement[bool]) -> ColumnElement[Any]:
    """The number of rows where ``cond`` is true (``count(*) FILTER (WHERE cond)``)."""
    return sa.func.count().filter(cond)


class _Runner:
    def __init__(self, session: Session, q: Query) -> None:
        self.s = session
        self.q = q
        self.dim: Dimension = q.dimension or DIMENSIONS[q.by]
        self.out = Computed()
        self.cases_from: FromClause = self.dim.join(Case.__table__)
        self.cohort = sa.and_(
            Case.opened_at >= q.start, Case.opened_at < q.end, Case.merged_into_id.is_(None)
        )

    def side(self, channel: str | None) -> str:
        return "traditional" if channel in self.q.traditional else "social"

    def add(self, key: str | None, channel: str | None, values: dict[str, Any]) -> None:
        """Add one (key, channel) row of sums to every grouping it belongs to."""
        for target in (
            ("key", key),
            ("channel", channel),
            ("side", self.side(channel)),
            ("total", TOTAL),
        ):
            acc = self.out.sums[target]
            for name, value in values.items():
                acc[name] += float(value or 0)

    def groupings(self) -> Groupings:
        return Groupings(
            traditional=tuple(sorted(self.q.traditional)),
            channel=self.q.by != "channel",
            total=TOTAL,
        )

    def store_pct(self, metric: str, found: dict[Key, Any]) -> None:
        if self.q.by == "channel":
            found.update({("channel", k): v for (ns, k), v in list(found.items()) if ns == "key"})
        self.out.pct[metric] = found

    # -- cases opened in the period ------------------------------------------------------

    def case_sums(self) -> None:
        q, c = self.q, Case

        # The period's cases, read once.  Their alerts, promises and public messages are
        # aggregated per case over the cohort's id range (a superset of its ids, narrow
        # because ids grow with time) and joined: a few index range scans instead of a
        # lookup per case and table, or hashing whole tables.
        cohort = (
            sa.select(
                c.id,
                self.dim.value().label("key"),
                c.channel,
                c.kind,
                c.category,
                c.first_response_at.label("fr_at"),
                c.first_response_due.label("fr_due"),
                c.resolved_at.label("res_at"),
                c.resolution_due.label("res_due"),
                c.follow_up_due.label("fu_due"),
                c.paused_remaining,
                c.reopen_count,
                c.csat_score,
                c.csat_requested_at,
                (epoch(self.s, c.first_response_at) - epoch(self.s, c.opened_at)).label("fr_d"),
            )
            .select_from(self.cases_from)
            .where(self.cohort)
            .subquery("cohort")
        )
        # "id + 0": min(id) and max(id) would otherwise walk the primary key from either end
        # until a case of the period turns up, instead of reading the period's cases.
        bounds = (
            sa.select(sa.func.min(c.id + 0).label("lo"), sa.func.max(c.id + 0).label("hi"))
            .where(self.cohort)
            .cte("bounds")
        )
        lo = sa.select(bounds.c.lo).scalar_subquery()
        hi = sa.select(bounds.c.hi).scalar_subquery()

        def any_(cond: ColumnElement[bool], name: str) -> Any:
            return sa.func.max(sa.case((cond, 1), else_=0)).label(name)

        def per_case(model: Any, name: str, *where: Any, **flags: Any) -> Any:
            """Whether each case of the period's id range has rows of ``model`` meeting each
            of ``flags`` (one row per case that has any)."""
            return (
                sa.select(model.case_id, *(any_(cond, flag) for flag, cond in flags.items()))
                .where(model.case_id >= lo, model.case_id <= hi, *where)
                .group_by(model.case_id)
                .subquery(name)
            )

        a, fu, i = SlaAlert, FollowUp, Interaction
        alerts = per_case(
            a,
            "alerts",
            a.kind == "breach",
            fr=a.clock == "first_response",
            fu=a.clock == "follow_up",
            res=a.clock == "resolution",
        )
        promises = per_case(fu, "promises", broken=fu.status == "broken", open=fu.status == "open")
        public = per_case(
            i,
            "public",
            i.public.is_(True),
            pub_in=i.direction == "inbound",
            pub_out=i.direction == "outbound",
        )
        k = cohort.c
        flags = (
            sa.select(
                k.key,
                k.channel,
                k.kind,
                k.category,
                k.fr_at,
                k.fr_due,
                k.res_at,
                k.res_due,
                k.fu_due,
                k.paused_remaining,
                k.reopen_count,
                k.csat_score,
                k.csat_requested_at,
                k.fr_d,
                sa.func.coalesce(alerts.c.fr, 0).label("fr_alert"),
                sa.func.coalesce(alerts.c.fu, 0).label("fu_alert"),
                sa.func.coalesce(alerts.c.res, 0).label("res_alert"),
                sa.case((promises.c.case_id.is_not(None), 1), else_=0).label("fu_any"),
                sa.func.coalesce(promises.c.broken, 0).label("fu_broken"),
                sa.func.coalesce(promises.c.open, 0).label("fu_open"),
                sa.func.coalesce(public.c.pub_in, 0).label("pub_in"),
                sa.func.coalesce(public.c.pub_out, 0).label("pub_out"),
            )
            .select_from(
                cohort.outerjoin(alerts, alerts.c.case_id == k.id)
                .outerjoin(promises, promises.c.case_id == k.id)
                .outerjoin(public, public.c.case_id == k.id)
            )
            .subquery("case_flags")
        )
        f = flags.c

        def yes(col: Any) -> ColumnElement[bool]:
            return col == 1

        fr_alert, fu_alert, res_alert = yes(f.fr_alert), yes(f.fu_alert), yes(f.res_alert)
        fr_at, fr_due, res_at, res_due = f.fr_at, f.fr_due, f.res_at, f.res_due
        fr_breached = sa.or_(
            fr_alert,
            sa.and_(
                fr_due.is_not(None),
                sa.or_(
                    sa.and_(fr_at.is_not(None), fr_at > fr_due),
                    sa.and_(fr_at.is_(None), fr_due <= q.as_of),
                ),
            ),
        )
        fr_met = sa.and_(fr_due.is_not(None), fr_at.is_not(None), fr_at <= fr_due, ~fr_alert)
        res_breached = sa.or_(
            res_alert,
            sa.and_(
                res_due.is_not(None),
                sa.or_(
                    sa.and_(res_at.is_not(None), res_at > res_due),
                    sa.and_(res_at.is_(None), res_due <= q.as_of),
                ),
            ),
        )
        res_app = sa.or_(res_due.is_not(None), f.paused_remaining.is_not(None), res_alert)
        res_met = sa.and_(
            res_app, res_at.is_not(None), ~res_alert, sa.or_(res_due.is_(None), res_at <= res_due)
        )
        fu_app = sa.or_(yes(f.fu_any), fu_alert, f.fu_due.is_not(None))
        fu_breached = sa.or_(
            fu_alert,
            yes(f.fu_broken),
            sa.and_(f.fu_due.is_not(None), f.fu_due <= q.as_of),
        )
        fu_met = sa.and_(fu_app, ~fu_breached, ~yes(f.fu_open))
        pub = sa.and_(f.kind == "complaint", yes(f.pub_in))
        hist = []
        for n, (_, low, high) in enumerate(HISTOGRAM):
            conds: list[ColumnElement[bool]] = [fr_at.is_not(None)]
            if low:
                conds.append(f.fr_d >= low)
            if high is not None:
                conds.append(f.fr_d < high)
            hist.append(_sum(sa.and_(*conds)).label(f"h{n}"))
        stmt = sa.select(
            f.key,
            f.channel,
            f.category,
            sa.func.count().label("cases"),
            sa.func.count(fr_at).label("responded"),
            _sum(sa.or_(fr_due.is_not(None), fr_alert)).label("fr_app"),
            _sum(fr_met).label("fr_met"),
            _sum(fr_breached).label("fr_breached"),
            _sum(fu_app).label("fu_app"),
            _sum(fu_met).label("fu_met"),
            _sum(fu_breached).label("fu_breached"),
            _sum(res_app).label("res_app"),
            _sum(res_met).label("res_met"),
            _sum(res_breached).label("res_breached"),
            _sum(f.reopen_count > 0).label("reopened"),
            _sum(sa.or_(res_at.is_not(None), f.reopen_count > 0)).label("reopen_eligible"),
            sa.func.coalesce(sa.func.sum(f.csat_score), 0).label("csat_sum"),
            sa.func.count(f.csat_score).label("csat_rated"),
            _sum(sa.or_(f.csat_requested_at.is_not(None), f.csat_score.is_not(None))).label(
                "csat_asked"
            ),
            _sum(pub).label("pub"),
            _sum(sa.and_(pub, yes(f.pub_out))).label("pub_answered"),
            *hist,
        ).group_by(f.key, f.channel, f.category)
        categories: dict[str, int] = defaultdict(int)
        for row in self.s.execute(stmt).mappings():
            values = dict(row)
            categories[values.pop("category")] += int(values["cases"])
            self.add(values.pop("key"), values.pop("channel"), values)
        # The ten largest categories, ties by name (code point order on both databases).
        top = sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        self.out.top_categories = top

    def case_percentiles(self) -> None:
        c = Case
        e = lambda col: epoch(self.s, col)  # noqa: E731
        src = (
            sa.select(
                self.dim.value().label("key"),
                c.channel.label("channel"),
                (e(c.first_response_at) - e(c.opened_at)).label("fr"),
                (e(c.resolved_at) - e(c.opened_at)).label("res"),
            )
            .select_from(self.cases_from)
            .where(
                self.cohort, sa.or_(c.first_response_at.is_not(None), c.resolved_at.is_not(None))
            )
        )
        found = percentiles(self.s, self.groupings(), src, ("fr", "res"))
        for metric, values in found.items():
            self.store_pct(metric, values)

    # -- backlog at as_of ----------------------------------------------------------------

    def backlog(self) -> None:
        c, at = Case, self.q.as_of
        open_at = sa.and_(
            # coalesce() keeps the planner off ix_cases_opened_at (every case matches
            # "opened before"): the open ones are found through ix_cases_resolved_at.
            sa.func.coalesce(c.opened_at, c.opened_at) < at,
            sa.or_(c.resolved_at.is_(None), c.resolved_at > at),
            c.merged_into_id.is_(None),
        )
        as_of_epoch = math.floor(at.timestamp())
        src = (
            sa.select(
                self.dim.value().label("key"),
                c.channel.label("channel"),
                (sa.literal(as_of_epoch, sa.BigInteger) - epoch(self.s, c.opened_at)).label("d"),
            )
            .select_from(self.cases_from)
            .where(open_at)
        )
        # One statement: the ages of each (slice, channel) group, whose number is its count.
        runs = grouped_values(self.s, src)
        for (key, channel), (ages,) in runs.items():
            self.add(key, channel, {"backlog": len(ages)})
        self.store_pct("age", percentiles_of(self.groupings(), runs)["d"])

    # -- promises made in the period -----------------------------------------------------

    def follow_up_sums(self) -> None:
        f = FollowUp
        frm = self.dim.join(f.__table__.join(Case.__table__, Case.id == f.case_id))
        key = self.dim.value()
        made = sa.and_(f.created_at >= self.q.start, f.created_at < self.q.end)
        # The range of their cases' ids (redundant with the join) lets the planner read
        # those cases by primary key rather than hash every case.
        lo = sa.select(sa.func.min(f.case_id + 0)).where(made).scalar_subquery()
        hi = sa.select(sa.func.max(f.case_id + 0)).where(made).scalar_subquery()
        stmt = (
            sa.select(
                key.label("key"),
                Case.channel,
                _sum(f.status == "kept").label("kept"),
                _sum(f.status == "broken").label("broken"),
                _sum(f.status == "open").label("open"),
            )
            .select_from(frm)
            .where(made, Case.id >= lo, Case.id <= hi)
            .group_by(key, Case.channel)
        )
        for row in self.s.execute(stmt).mappings():
            values = dict(row)
            self.add(values.pop("key"), values.pop("channel"), values)

    # -- messages in the period ----------------------------------------------------------

    def local_days(self) -> list[tuple[date, datetime, datetime]]:
        """The period cut at local midnights: ``(day, start, end)`` in UTC, in order.

        Exact across DST changes (a day is then 23 or 25 hours long); a midnight that does
        not exist (a change at 00:00) starts its day at the first instant that does.
        """
        zone = ZoneInfo(self.q.timezone)
        out = []
        lo, day = self.q.start, self.q.start.astimezone(zone).date()
        while lo < self.q.end:
            midnight = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
            hi = min(midnight, self.q.end)
            if hi > lo:
                out.append((day, lo, hi))
            lo, day = max(lo, hi), day + timedelta(days=1)
        return out

    def interaction_sums(self) -> None:
        days = self.local_days()
        if not days:
            return
        rows: list[dict[str, Any]] = []
        for first in range(0, len(days), DAYS_PER_STATEMENT):
            chunk = days[first : first + DAYS_PER_STATEMENT]
            rows += self._interaction_rows(first, chunk)
        # Add up in one fixed order, (day, key, channel) with no key first, whatever order
        # the database returns its groups in: the float sums do not depend on the plan.
        rows.sort(key=lambda r: (r["n"], r["key"] is not None, r["key"] or "", r["channel"]))
        waits: Runs = {}
        for values in rows:
            n, k, ch = values.pop("n"), values.pop("key"), values.pop("channel")
            found = parse_values(values.pop("waits"))
            if found:
                waits.setdefault((k, ch), [[]])[0].extend(found)
            self.add(k, ch, values)
            day = days[n][0]
            for ns, nk in (("key", k), ("channel", ch), ("total", TOTAL)):
                acc = self.out.daily[(ns, nk, day)]
                for name, value in values.items():
                    acc[name] += float(value or 0)
        for run in waits.values():
            run[0].sort()
        self.store_pct("wait", percentiles_of(self.groupings(), waits)["d"])

    def _interaction_rows(
        self, first: int, days: list[tuple[date, datetime, datetime]]
    ) -> list[dict[str, Any]]:
        """Sums by (day number, key, channel) of the messages of ``days``, from ``first``."""
        i, q = Interaction, self.q
        start, end = days[0][1], days[-1][2]
        frm: FromClause = i.__table__
        in_days: list[ColumnElement[bool]] = []
        day: Any
        if self.s.get_bind().dialect.name == "postgresql":
            # One range scan; each message's day by binary search in the days' starts.
            starts = sa.bindparam(
                "day_starts", [lo for _, lo, _ in days], type_=ARRAY(sa.DateTime(timezone=True))
            )
            day = sa.func.width_bucket(i.created_at, starts) + (first - 1)
            in_days = [i.created_at >= start, i.created_at < end]
        else:
            # One index range scan per local day: no per-message date arithmetic (SQLite
            # has no cheap one).
            ranges = (
                sa.values(
                    sa.column("n", sa.Integer),
                    sa.column("lo", UTCDateTime()),
                    sa.column("hi", UTCDateTime()),
                    name="days",
                )
                .data([(first + n, lo, hi) for n, (_, lo, hi) in enumerate(days)])
                .cte("days")
            )
            frm = ranges.join(frm, sa.and_(i.created_at >= ranges.c.lo, i.created_at < ranges.c.hi))
            day = ranges.c.n
        if q.by == "channel":
            key: Any = i.channel
        else:
            frm = self.dim.join(frm.outerjoin(Case.__table__, Case.id == i.case_id))
            key = self.dim.value()
        inbound = i.direction == "inbound"
        scored = sa.and_(inbound, i.sentiment_score.is_not(None))
        # The wait before an agent answered, of the traditional contacts that record it; the
        # JSON is read only for them.
        traditional = sa.and_(inbound, i.channel.in_(sorted(q.traditional)))
        wait = sa.case((traditional, wait_seconds(self.s, i.raw, MAX_WAIT)), else_=None)
        stmt = (
            sa.select(
                day.label("n"),
                key.label("key"),
                i.channel,
                _sum(inbound).label("volume_in"),
                _sum(i.direction == "outbound").label("volume_out"),
                _sum(scored).label("sent_n"),
                sa.func.coalesce(
                    sa.func.sum(sa.case((scored, i.sentiment_score), else_=0.0)), 0.0
                ).label("sent_sum"),
                _sum(sa.and_(inbound, i.sentiment == "positive")).label("pos"),
                _sum(sa.and_(inbound, i.sentiment == "neutral")).label("neu"),
                _sum(sa.and_(inbound, i.sentiment == "negative")).label("neg"),
                concat_values(self.s, wait).label("waits"),
            )
            .select_from(frm)
            .where(*in_days)
            .group_by(day, key, i.channel)
        )
        return [dict(row) for row in self.s.execute(stmt).mappings()]

    # -- business time -------------------------------------------------------------------

    def business(self) -> None:
        if self.q.calendar_for is None:
            return
        found = business_percentiles(
            self.s,
            cases_from=self.cases_from,
            key=self.dim.value(),
            cohort=self.cohort,
            calendar_for=self.q.calendar_for,
            groupings=self.groupings(),
        )
        if found is None:
            return
        self.out.business_time = True
        for metric, values in found.items():
            self.store_pct("b_" + metric, values)


def compute(session: Session, q: Query) -> Computed:
    """Run every metrics query for ``q`` in ``session`` and return the raw results."""
    if q.dimension is None and q.by not in DIMENSIONS:
        raise ValueError(f"unknown slice {q.by!r}; choose one of {', '.join(DIMENSIONS)}")
    if session.get_bind().dialect.name == "postgresql":
        # The planner's cost estimates of the correlated lookups trigger JIT compilation,
        # which costs more (hundreds of ms) than these short statements ever gain from it.
        session.execute(sa.text("SET LOCAL jit = off"))
    r = _Runner(session, q)
    r.case_sums()
    r.case_percentiles()
    r.backlog()
    r.follow_up_sums()
    r.interaction_sums()
    r.business()
    return r.out


def channel_sides(channels: Iterable[str | None], traditional: Sequence[str]) -> dict[str, str]:
    """Map each channel name to ``social`` or ``traditional``."""
    return {
        ch: ("traditional" if ch in traditional else "social") for ch in channels if ch is not None
    }
