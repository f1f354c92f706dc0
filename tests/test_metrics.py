"""Metrics on a constructed data set whose every answer is worked out by hand.

The period is Monday 2024-03-04 00:00 UTC to Monday 2024-03-11 00:00 UTC, "now" is its end.
Cases (social: twitter, facebook; traditional: phone, email, letter):

====  ========  ================  ===========  ===========  ==================================
case  channel   opened            1st resp.    resolved     other
====  ========  ================  ===========  ===========  ==================================
C1    twitter   Mon 04 10:00      +1800 s      +14400 s     met/met, CSAT 5, public answer
C2    twitter   Tue 05 09:00      +10800 (late) +86400      reopened once, CSAT 2, private answer
C3    facebook  Wed 06 08:00      +300         open         resolution overdue (breached)
C4    phone     Mon 04 09:00      +86400 (late, alert)  +259200 (on the due)  promise kept, CSAT asked
C5    email     Fri 08 09:00      none (overdue)  open      promise broken (alert), res. due later
C6    letter    Sat 09 10:00      +21600       +86400       no resolution clock
C7    twitter   Fri 01 (before)   -            open         backlog only
C8    twitter   Tue 05 (merged into C1)                     excluded everywhere
====  ========  ================  ===========  ===========  ==================================
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from scrm import hookimpl
from scrm.core.app import Scrm
from scrm.core.config import Config, ReportConfig
from scrm.core.metrics import gap, generate_report, parse_period, parse_since
from scrm.core.metrics.sql import interpolate
from scrm.core.models import Agent, Case, Customer, Department, FollowUp, Interaction, SlaAlert
from scrm.core.schemas import BusinessCalendar, CaseInfo, SlaPolicy
from scrm.plugins.tables.marketing import CampaignLink

START = datetime(2024, 3, 4, tzinfo=UTC)
END = datetime(2024, 3, 11, tzinfo=UTC)
H = 3600
D = 86400


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


def p(values: list[float], q: float) -> float:
    """The documented percentile, spelled out: v[lo] + (v[hi] - v[lo]) * (pos - lo)."""
    v = sorted(values)
    pos = q * (len(v) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


@pytest.fixture
def scrm_config(scrm_database_url: str) -> Config:
    return Config(database_url=scrm_database_url, timezone="UTC")


@pytest.fixture
def data(app: Scrm) -> Scrm:
    with app.session() as s:
        dept = {d.code: d.id for d in s.scalars(sa.select(Department))}
        agent = Agent(username="ali", department_id=dept["support"])
        cust = Customer(display_name="someone")
        s.add_all([agent, cust])
        s.flush()
        ext = iter(range(1, 1000))

        def case(channel: str, opened: datetime, **kw: Any) -> Case:
            values: dict[str, Any] = {
                "customer_id": cust.id,
                "department_id": dept["support"],
                "channel": channel,
                "kind": "complaint",
                "category": "billing",
                "priority": "normal",
                "status": "new",
                "language": "en",
                "opened_at": opened,
                "last_activity_at": opened,
            }
            values.update(kw)
            c = Case(**values)
            s.add(c)
            s.flush()
            return c

        def msg(
            c: Case | None,
            channel: str,
            when: datetime,
            direction: str = "inbound",
            public: bool = False,
            score: float | None = None,
            sentiment: str | None = None,
        ) -> Interaction:
            i = Interaction(
                channel=channel,
                external_id=f"m{next(ext)}",
                direction=direction,
                public=public,
                case_id=c.id if c else None,
                customer_id=cust.id,
                text="x",
                created_at=when,
                sentiment=sentiment,
                sentiment_score=score,
            )
            s.add(i)
            s.flush()
            return i

        c1 = case(
            "twitter",
            at(4, 10),
            status="resolved",
            assignee_id=agent.id,
            first_response_at=at(4, 10, 30),
            first_response_due=at(4, 11),
            resolved_at=at(4, 14),
            resolution_due=at(5, 10),
            csat_requested_at=at(4, 12),
            csat_score=5,
            csat_at=at(4, 13),
            language="tr",
            priority="high",
        )
        m1 = msg(c1, "twitter", at(4, 10), public=True, score=-0.5, sentiment="negative")
        msg(c1, "twitter", at(4, 10, 30), "outbound", public=True)
        c2 = case(
            "twitter",
            at(5, 9),
            status="resolved",
            first_response_at=at(5, 12),
            first_response_due=at(5, 11),
            resolved_at=at(6, 9),
            resolution_due=at(7, 9),
            reopen_count=1,
            csat_requested_at=at(5, 20),
            csat_score=2,
            csat_at=at(5, 21),
        )
        msg(c2, "twitter", at(5, 9), public=True, score=-0.75, sentiment="negative")
        msg(c2, "twitter", at(5, 12), "outbound", public=False)
        c3 = case(
            "facebook",
            at(6, 8),
            department_id=dept["sales"],
            kind="lead",
            category="other",
            priority="low",
            first_response_at=at(6, 8, 5),
            first_response_due=at(7, 8),
            resolution_due=at(8, 8),
        )
        msg(c3, "facebook", at(6, 8), public=True, score=0.5, sentiment="positive")
        msg(c3, "facebook", at(6, 8, 5), "outbound", public=False)
        c4 = case(
            "phone",
            at(4, 9),
            status="resolved",
            first_response_at=at(5, 9),
            first_response_due=at(4, 13),
            resolved_at=at(7, 9),
            resolution_due=at(7, 9),
            csat_requested_at=at(7, 9),
        )
        msg(c4, "phone", at(4, 9), score=-0.25, sentiment="negative")
        msg(c4, "phone", at(5, 9), "outbound")
        c5 = case(
            "email",
            at(8, 9),
            kind="question",
            category="delivery",
            first_response_due=at(8, 13),
            resolution_due=at(11, 9),
        )
        msg(c5, "email", at(8, 9), score=0.0, sentiment="neutral")
        c6 = case(
            "letter",
            at(9, 10),
            status="resolved",
            category="delivery",
            first_response_at=at(9, 16),
            first_response_due=at(9, 18),
            resolved_at=at(10, 10),
        )
        msg(c6, "letter", at(9, 10), score=-1.0, sentiment="negative")
        msg(c6, "letter", at(9, 16), "outbound")
        c7 = case("twitter", at(1, 0))
        msg(c7, "twitter", at(1, 0), public=True, score=-1.0, sentiment="negative")
        case("twitter", at(5, 9), merged_into_id=c1.id, status="closed")
        msg(None, "twitter", at(10, 23, 59), public=True, score=0.25, sentiment="positive")
        s.add_all(
            [
                SlaAlert(
                    case_id=c4.id,
                    clock="first_response",
                    due_at=at(4, 13),
                    kind="breach",
                    fired_at=at(4, 13),
                ),
                SlaAlert(
                    case_id=c4.id,
                    clock="first_response",
                    due_at=at(4, 13),
                    kind="warning",
                    fired_at=at(4, 12),
                ),
                SlaAlert(
                    case_id=c5.id,
                    clock="follow_up",
                    due_at=at(9, 10),
                    kind="breach",
                    fired_at=at(9, 10),
                ),
                FollowUp(
                    case_id=c4.id,
                    kind="call",
                    due_at=at(5, 12),
                    status="kept",
                    actor="a",
                    created_at=at(4, 12),
                ),
                FollowUp(
                    case_id=c5.id,
                    kind="dm",
                    due_at=at(9, 10),
                    status="broken",
                    actor="a",
                    created_at=at(8, 10),
                ),
                CampaignLink(campaign="spring", interaction_id=m1.id, matched="#spring"),
            ]
        )
    return app


def report(app: Scrm, by: str = "channel", **kw: Any) -> Any:
    return generate_report(app, start=kw.pop("start", START), end=END, by=by, now=END, **kw)


def test_every_metric_by_channel(data: Scrm) -> None:
    r = report(data)
    t = r.total
    assert (t.volume_in, t.volume_out, t.cases_opened) == (7, 5, 6)
    fr = [1800, 10800, 300, 86400, 21600]
    assert t.first_response.count == 5
    assert t.first_response.median == 10800
    assert t.first_response.p90 == p(fr, 0.9)
    assert t.first_response.business_median is None  # no calendar anywhere
    res = [14400, 86400, 259200, 86400]
    assert (t.resolution.median, t.resolution.p90) == (p(res, 0.5), p(res, 0.9))
    assert {k: (v.met, v.breached, v.pending) for k, v in t.sla.items()} == {
        "first_response": (3, 3, 0),
        "follow_up": (1, 1, 0),
        "resolution": (3, 1, 1),
    }
    assert t.sla["first_response"].compliance == 0.5
    assert t.backlog.count == 3
    ages = [864000, 403200, 226800]
    assert (t.backlog.median_age, t.backlog.p90_age) == (403200, p(ages, 0.9))
    assert (t.follow_ups.kept, t.follow_ups.broken, t.follow_ups.kept_rate) == (1, 1, 0.5)
    assert (t.reopens.reopened, t.reopens.eligible, t.reopens.rate) == (1, 4, 0.25)
    assert (t.csat.average, t.csat.rated, t.csat.asked) == (3.5, 2, 3)
    assert t.csat.response_rate == 2 / 3
    assert (t.public_answers.complaints, t.public_answers.answered) == (2, 1)
    assert t.sentiment_average == -1.75 / 7
    assert t.response_histogram == {
        "< 15 min": 1,
        "15 min - 1 h": 1,
        "1 - 4 h": 1,
        "4 - 24 h": 1,
        "> 1 day": 1,
        "no response": 1,
    }

    ch = {g.key: g for g in r.groups}
    assert set(ch) == {"twitter", "facebook", "phone", "email", "letter"}
    assert (ch["twitter"].volume_in, ch["twitter"].volume_out) == (3, 2)
    assert ch["twitter"].backlog.count == 1  # C7; C8 is merged away
    assert ch["email"].first_response.median is None  # empty slice: None, not 0
    assert ch["email"].sla["first_response"].breached == 1
    assert ch["email"].sla["resolution"].pending == 1
    assert ch["letter"].sla["resolution"] == ch["letter"].sla["resolution"].model_copy(
        update={"met": 0, "breached": 0, "pending": 0, "compliance": None}
    )
    assert [g.key for g in r.channels] == [g.key for g in r.groups]

    sides = {g.key: g for g in r.sides}
    soc, trad = sides["social"], sides["traditional"]
    assert (soc.first_response.median, soc.first_response.p90) == (1800, p([300, 1800, 10800], 0.9))
    assert (trad.first_response.median, trad.first_response.p90) == (54000, p([21600, 86400], 0.9))
    assert (soc.resolution.median, trad.resolution.median) == (50400, 172800)
    assert soc.sla["first_response"].compliance == 2 / 3
    assert trad.sla["first_response"].compliance == 1 / 3
    assert soc.sla["follow_up"].compliance is None
    assert trad.sla["follow_up"].compliance == 0.5
    assert (soc.backlog.median_age, trad.backlog.median_age) == (633600, 226800)
    assert (soc.reopens.rate, trad.reopens.rate) == (0.5, 0.0)
    assert (soc.csat.average, soc.csat.response_rate) == (3.5, 1.0)
    assert (trad.csat.average, trad.csat.response_rate) == (None, 0.0)
    assert soc.public_answers.share == 0.5
    assert trad.public_answers.share is None
    assert soc.sentiment_average == -0.125
    assert trad.sentiment_average == -1.25 / 3

    days = {d.day.isoformat(): d for d in r.daily_total}
    assert (days["2024-03-04"].volume_in, days["2024-03-04"].volume_out) == (2, 1)
    assert (days["2024-03-05"].volume_in, days["2024-03-05"].volume_out) == (1, 2)
    assert days["2024-03-10"].positive == 1
    assert sum(d.volume_in for d in r.daily_total) == 7
    assert r.top_categories == [("billing", 3), ("delivery", 2), ("other", 1)]


def test_parity_rows_and_hook(data: Scrm, register_plugin: Any) -> None:
    calls: list[tuple[str, float, float, float]] = []

    class Alert:
        @hookimpl
        def parity_gap(self, metric: str, social: float, traditional: float, gap: float) -> None:
            calls.append((metric, social, traditional, gap))

    register_plugin(Alert())
    r = report(data)
    rows = {row.metric: row for row in r.parity}
    fr = rows["first_response_median"]
    assert (fr.social, fr.traditional) == (1800, 54000)
    assert fr.gap == (54000 - 1800) / 1800 * 100 and fr.flagged
    assert fr.channels["phone"] == 86400 and fr.channels["email"] is None
    sla = rows["sla_first_response"]
    assert sla.gap == pytest.approx(100 / 3) and sla.flagged  # percentage points
    assert rows["reopen_rate"].gap == -50.0 and rows["reopen_rate"].flagged  # better
    assert rows["public_answer_share"].gap is None and not rows["public_answer_share"].flagged
    assert "first_response_business_median" not in rows  # no calendar: not shown
    fired = {m: g for m, _, _, g in calls}
    assert set(fired) == {r.metric for r in r.parity if r.flagged}
    assert fired["sla_first_response"] == sla.gap
    assert ("first_response_median", 1800, 54000, fr.gap) in calls

    data.config.report.parity_tolerance_percent = 1e9
    calls.clear()
    assert not any(row.flagged for row in report(data).parity)
    assert calls == []


def test_gap_definition() -> None:
    assert gap(100.0, 130.0, "seconds", "lower") == 30.0
    assert gap(100.0, 70.0, "seconds", "lower") == -30.0
    assert gap(4.0, 3.0, "score", "higher") == 25.0
    assert gap(0.9, 0.6, "ratio", "higher") == pytest.approx(30.0)
    assert gap(0.0, 0.0, "seconds", "lower") == 0.0
    assert gap(0.0, 5.0, "seconds", "lower") is None
    assert gap(None, 5.0, "seconds", "lower") is None


def test_business_time_from_configured_calendar(data: Scrm) -> None:
    cal = BusinessCalendar(timezone="UTC")  # Mon-Fri 09:00-18:00
    data.config.report = ReportConfig(business_calendar=cal)
    r = report(data)
    assert r.business_time
    sides = {g.key: g for g in r.sides}
    # C1 Mon 10:00->10:30 = 1800; C2 Tue 09:00->12:00 = 10800; C3 Wed 08:00->08:05 = 0 (closed)
    assert sides["social"].first_response.business_median == 1800
    assert sides["social"].first_response.business_p90 == p([0, 1800, 10800], 0.9)
    # C4 Mon 09:00 -> Tue 09:00 = 9 h; C6 on a Saturday = 0
    assert sides["traditional"].first_response.business_median == p([0, 9 * H], 0.5)
    # resolution: C1 4 h, C2 Tue 09:00->Wed 09:00 = 9 h, C4 Mon->Thu 09:00 = 27 h, C6 = 0
    t = r.total
    assert t.resolution.business_median == p([4 * H, 9 * H, 27 * H, 0], 0.5)
    assert t.resolution.business_p90 == p([4 * H, 9 * H, 27 * H, 0], 0.9)
    assert t.first_response.median == 10800  # clock time unchanged
    assert {row.metric for row in r.parity} >= {"first_response_business_median"}


def test_business_time_from_sla_policy_per_case_group(data: Scrm, register_plugin: Any) -> None:
    cal = BusinessCalendar(timezone="UTC")

    class PhoneHours:
        @hookimpl
        def choose_sla(self, case: CaseInfo) -> SlaPolicy | None:
            if case.channel == "phone":
                return SlaPolicy(name="office", calendar=cal)
            return None  # others: the built-in policy, around the clock

    register_plugin(PhoneHours())
    r = report(data)
    ch = {g.key: g for g in r.groups}
    assert ch["phone"].first_response.business_median == 9 * H
    assert ch["letter"].first_response.business_median == 21600  # no calendar: clock time
    assert ch["twitter"].first_response.business_median == p([1800, 10800], 0.5)


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("department", {"support": 5, "sales": 1, None: 0}),
        ("agent", {"ali": 1, None: 5}),
        ("category", {"billing": 3, "delivery": 2, "other": 1, None: 0}),
        ("priority", {"high": 1, "normal": 4, "low": 1, None: 0}),
        ("language", {"tr": 1, "en": 5, None: 0}),
        ("campaign", {"spring": 1, None: 5}),
    ],
)
def test_slices_add_up(data: Scrm, by: str, expected: dict[str | None, int]) -> None:
    r = report(data, by=by)
    got = {g.key: g.cases_opened for g in r.groups}
    assert got == expected  # None: messages without a case (or cases without the attribute)
    assert sum(g.volume_in for g in r.groups) == r.total.volume_in == 7
    assert r.total.first_response.median == 10800


def test_empty_period_gives_none_not_errors(data: Scrm) -> None:
    r = generate_report(
        data, start=datetime(2020, 1, 1, tzinfo=UTC), end=datetime(2020, 2, 1, tzinfo=UTC)
    )
    t = r.total
    assert (t.volume_in, t.cases_opened, t.backlog.count) == (0, 0, 0)
    assert t.first_response.median is None and t.backlog.median_age is None
    assert all(c.compliance is None for c in t.sla.values())
    assert t.csat.average is None and t.reopens.rate is None and t.sentiment_average is None
    assert r.groups == [] and r.daily_total == []
    assert all(row.gap is None and not row.flagged for row in r.parity)


def test_percentile_interpolation() -> None:
    assert interpolate(1.0, 3.0, 2, 0.5) == 2.0
    assert interpolate(None, None, 0, 0.5) is None
    assert p([1, 2, 3, 4], 0.5) == 2.5


def test_period_parsing() -> None:
    now = datetime(2024, 3, 11, 12, tzinfo=UTC)
    assert parse_since("30d") == timedelta(days=30)
    assert parse_since("12h") == timedelta(hours=12)
    with pytest.raises(ValueError, match="30d"):
        parse_since("a month")
    assert parse_period(since=None, start=None, end=None, timezone="UTC", now=now) == (
        now - timedelta(days=30),
        now,
    )
    start, end = parse_period(
        since=None, start="2024-03-01", end="2024-03-10", timezone="Europe/Istanbul", now=now
    )
    assert start == datetime(2024, 2, 29, 21, tzinfo=UTC)
    assert end == datetime(2024, 3, 10, 21, tzinfo=UTC)  # the end date is included
    with pytest.raises(ValueError, match="empty"):
        parse_period(since=None, start="2024-03-10", end="2024-03-01", timezone="UTC", now=now)
