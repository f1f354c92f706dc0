"""Business-time arithmetic: opening hours, weekends, holidays, time zones, DST-free Istanbul."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scrm.core.schemas import BusinessCalendar
from scrm.core.sla import add_time, time_between

IST = BusinessCalendar(
    timezone="Europe/Istanbul",
    hours={
        "mon": "09:00-18:00",
        "tue": "09:00-18:00",
        "wed": "09:00-18:00",
        "thu": "09:00-18:00",
        "fri": "09:00-18:00",
        "sat": "10:00-14:00",
    },
    holidays=(date(2024, 10, 29),),  # Republic Day
)


def ist(y, mo, d, h, mi=0):
    """Istanbul local time (UTC+3 all year) as an aware UTC datetime."""
    return (
        datetime(y, mo, d, h - 3, mi, tzinfo=UTC)
        if h >= 3
        else datetime(y, mo, d - 1, h + 21, mi, tzinfo=UTC)
    )


def test_within_one_day():
    assert add_time(ist(2024, 10, 21, 10), timedelta(hours=4), IST) == ist(2024, 10, 21, 14)


def test_friday_evening_rolls_over_saturday_half_day_to_monday():
    # Fri 17:00 + 4h: 1h Friday, 4h Saturday 10-14 would cover 3h -> Sat 13:00.
    assert add_time(ist(2024, 10, 25, 17), timedelta(hours=4), IST) == ist(2024, 10, 26, 13)
    # Fri 17:00 + 6h: 1h Fri + 4h Sat + 1h Mon -> Mon 10:00.
    assert add_time(ist(2024, 10, 25, 17), timedelta(hours=6), IST) == ist(2024, 10, 28, 10)


def test_holiday_is_skipped():
    # Mon 28 Oct 17:00 + 2h: 1h Monday, Tuesday 29 Oct is a holiday -> Wed 10:00.
    assert add_time(ist(2024, 10, 28, 17), timedelta(hours=2), IST) == ist(2024, 10, 30, 10)


def test_start_outside_hours_starts_at_opening():
    assert add_time(ist(2024, 10, 21, 7), timedelta(minutes=30), IST) == ist(2024, 10, 21, 9, 30)
    assert add_time(ist(2024, 10, 27, 12), timedelta(hours=1), IST) == ist(
        2024, 10, 28, 10
    )  # Sunday


def test_time_between_counts_only_open_hours():
    assert time_between(ist(2024, 10, 25, 17), ist(2024, 10, 28, 10), IST) == timedelta(hours=6)
    assert time_between(ist(2024, 10, 28, 10), ist(2024, 10, 25, 17), IST) == timedelta(0)
    assert time_between(ist(2024, 10, 21, 19), ist(2024, 10, 22, 8), IST) == timedelta(0)


def test_without_calendar_it_is_wall_clock():
    t = ist(2024, 10, 25, 17)
    assert add_time(t, timedelta(hours=6), None) == t + timedelta(hours=6)


def test_bad_calendars_are_refused_clearly():
    with pytest.raises(ValueError, match="unknown weekday"):
        BusinessCalendar(hours={"monday": "09:00-18:00"})
    with pytest.raises(ValueError, match="not a range"):
        BusinessCalendar(hours={"mon": "18:00-09:00"})
    with pytest.raises(ValueError, match="unknown time zone"):
        BusinessCalendar(timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="no opening hours"):
        add_time(ist(2024, 10, 21, 9), timedelta(hours=1), BusinessCalendar(hours={}))


instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20))


@given(instants, durations)
def test_adding_then_measuring_gives_the_duration_back(start, duration):
    end = add_time(start, duration, IST)
    assert end >= start
    assert time_between(start, end, IST) == duration


@given(instants, durations, durations)
def test_adding_is_additive(start, a, b):
    assert add_time(add_time(start, a, IST), b, IST) == add_time(start, a + b, IST)
