"""What a metrics report contains: frozen pydantic models, ready for JSON, CSV and HTML.

Every duration is in seconds, every rate a fraction between 0 and 1.  A value that cannot
be computed because its slice is empty (a median of no cases, a rate with a zero
denominator) is ``None``, never zero and never an error.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

__all__ = [
    "Backlog",
    "Csat",
    "DayPoint",
    "Durations",
    "FollowUps",
    "GroupMetrics",
    "ParityRow",
    "PublicAnswers",
    "Reopens",
    "Report",
    "SlaClock",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Durations(_Frozen):
    """Median and 90th percentile of a duration over the cases that have it."""

    count: int
    median: float | None = None
    p90: float | None = None
    business_median: float | None = None
    """Median in business time; ``None`` when no business calendar applies."""
    business_p90: float | None = None


class SlaClock(_Frozen):
    """Cases whose deadline on one clock was met, breached, or is still running."""

    met: int = 0
    breached: int = 0
    pending: int = 0
    compliance: float | None = None
    """``met / (met + breached)``."""


class Backlog(_Frozen):
    """Cases still open at the end of the period, and how long they have been open."""

    count: int = 0
    median_age: float | None = None
    p90_age: float | None = None


class FollowUps(_Frozen):
    """Promises made to customers in the period, by outcome."""

    kept: int = 0
    broken: int = 0
    open: int = 0
    kept_rate: float | None = None
    """``kept / (kept + broken)``."""


class Reopens(_Frozen):
    """Cases reopened at least once among the cases that reached a solution."""

    reopened: int = 0
    eligible: int = 0
    rate: float | None = None


class Csat(_Frozen):
    """Satisfaction ratings: their average and how many asked customers answered."""

    average: float | None = None
    rated: int = 0
    asked: int = 0
    response_rate: float | None = None


class PublicAnswers(_Frozen):
    """Complaint cases with a public inbound message, and how many got a public answer."""

    complaints: int = 0
    answered: int = 0
    share: float | None = None


class GroupMetrics(_Frozen):
    """Every metric for one slice (a channel, a department, ``social``, the total...)."""

    key: str | None
    volume_in: int = 0
    volume_out: int = 0
    cases_opened: int = 0
    first_response: Durations
    contact_wait: Durations = Durations(count=0)
    """How long traditional-channel customers waited before an agent answered (a phone
    queue): the period's inbound contacts that record it (``raw.wait_seconds``)."""
    resolution: Durations
    sla: dict[str, SlaClock]
    backlog: Backlog
    follow_ups: FollowUps
    reopens: Reopens
    csat: Csat
    public_answers: PublicAnswers
    sentiment_average: float | None = None
    """Average sentiment score (-1..1) of the slice's inbound messages."""
    response_histogram: dict[str, int]
    """First-response times of the period's cases in buckets, plus ``no response``."""


class DayPoint(_Frozen):
    """One local calendar day of one slice: volume and sentiment."""

    day: date
    key: str | None
    volume_in: int
    volume_out: int
    sentiment_count: int
    sentiment_average: float | None
    positive: int
    neutral: int
    negative: int


class ParityRow(_Frozen):
    """One metric for social and traditional channels side by side."""

    metric: str
    label: str
    unit: str
    """``seconds``, ``ratio`` (0..1) or ``score``."""
    better: str
    """``lower`` or ``higher``: which way is better service."""
    channels: dict[str, float | None]
    social: float | None
    traditional: float | None
    gap: float | None
    """Percent, positive when the traditional group is served worse: relative to the social
    value for times and scores, percentage points for ratios.  ``None`` if undefined."""
    flagged: bool


class Report(_Frozen):
    """A metrics report for one period, sliced one way."""

    start: datetime
    end: datetime
    as_of: datetime
    by: str
    timezone: str
    business_time: bool
    """Whether any case had a business calendar (business durations are filled)."""
    tolerance_percent: float
    channel_sides: dict[str, str]
    groups: list[GroupMetrics]
    channels: list[GroupMetrics]
    sides: list[GroupMetrics]
    total: GroupMetrics
    daily: list[DayPoint]
    daily_channels: list[DayPoint]
    daily_total: list[DayPoint]
    top_categories: list[tuple[str, int]]
    parity: list[ParityRow]
