"""Flat views of a report for tables and CSV, and human-readable durations."""

from __future__ import annotations

from typing import Any

from scrm.core.metrics.model import GroupMetrics

__all__ = ["COLUMNS", "display", "flat", "human_duration", "percent"]

#: (column name, human header) of :func:`flat`, in order.
COLUMNS: list[tuple[str, str]] = [
    ("key", "slice"),
    ("volume_in", "in"),
    ("volume_out", "out"),
    ("cases_opened", "cases"),
    ("first_response_median", "1st resp. median"),
    ("first_response_p90", "1st resp. p90"),
    ("first_response_business_median", "1st resp. median (business)"),
    ("first_response_business_p90", "1st resp. p90 (business)"),
    ("contact_wait_count", "waits recorded"),
    ("contact_wait_median", "wait for an agent, median"),
    ("contact_wait_p90", "wait for an agent, p90"),
    ("resolution_median", "resolution median"),
    ("resolution_p90", "resolution p90"),
    ("resolution_business_median", "resolution median (business)"),
    ("resolution_business_p90", "resolution p90 (business)"),
    ("sla_first_response_met", "SLA 1st resp. met"),
    ("sla_first_response_breached", "SLA 1st resp. breached"),
    ("sla_first_response_compliance", "SLA 1st resp."),
    ("sla_follow_up_met", "SLA follow-up met"),
    ("sla_follow_up_breached", "SLA follow-up breached"),
    ("sla_follow_up_compliance", "SLA follow-up"),
    ("sla_resolution_met", "SLA resolution met"),
    ("sla_resolution_breached", "SLA resolution breached"),
    ("sla_resolution_compliance", "SLA resolution"),
    ("backlog", "backlog"),
    ("backlog_median_age", "backlog age median"),
    ("backlog_p90_age", "backlog age p90"),
    ("follow_ups_kept", "promises kept"),
    ("follow_ups_broken", "promises broken"),
    ("follow_ups_kept_rate", "promises kept rate"),
    ("reopen_rate", "reopen rate"),
    ("csat_average", "CSAT"),
    ("csat_response_rate", "CSAT response rate"),
    ("public_complaints", "public complaints"),
    ("public_answer_share", "answered publicly"),
    ("sentiment_average", "sentiment"),
]


def flat(g: GroupMetrics) -> dict[str, Any]:
    """One slice's metrics as a flat row (seconds and 0..1 ratios, None when undefined)."""
    row: dict[str, Any] = {
        "key": g.key,
        "volume_in": g.volume_in,
        "volume_out": g.volume_out,
        "cases_opened": g.cases_opened,
    }
    for name, d in (("first_response", g.first_response), ("resolution", g.resolution)):
        row[f"{name}_median"] = d.median
        row[f"{name}_p90"] = d.p90
        row[f"{name}_business_median"] = d.business_median
        row[f"{name}_business_p90"] = d.business_p90
    row["contact_wait_count"] = g.contact_wait.count
    row["contact_wait_median"] = g.contact_wait.median
    row["contact_wait_p90"] = g.contact_wait.p90
    for clock, c in g.sla.items():
        row[f"sla_{clock}_met"] = c.met
        row[f"sla_{clock}_breached"] = c.breached
        row[f"sla_{clock}_compliance"] = c.compliance
    row.update(
        backlog=g.backlog.count,
        backlog_median_age=g.backlog.median_age,
        backlog_p90_age=g.backlog.p90_age,
        follow_ups_kept=g.follow_ups.kept,
        follow_ups_broken=g.follow_ups.broken,
        follow_ups_kept_rate=g.follow_ups.kept_rate,
        reopen_rate=g.reopens.rate,
        csat_average=g.csat.average,
        csat_response_rate=g.csat.response_rate,
        public_complaints=g.public_answers.complaints,
        public_answer_share=g.public_answers.share,
        sentiment_average=g.sentiment_average,
    )
    return {name: row.get(name) for name, _ in COLUMNS}


def human_duration(seconds: float | None) -> str:
    """``3d 4h``, ``2h 05m``, ``4m 10s``, ``12s``; ``-`` for None."""
    if seconds is None:
        return "-"
    s = round(seconds)
    sign = "-" if s < 0 else ""
    s = abs(s)
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    if d:
        return f"{sign}{d}d {h}h"
    if h:
        return f"{sign}{h}h {m:02d}m"
    if m:
        return f"{sign}{m}m {sec:02d}s"
    return f"{sign}{sec}s"


def percent(ratio: float | None, digits: int = 0) -> str:
    """``87%`` from 0.87; ``-`` for None."""
    return "-" if ratio is None else f"{ratio * 100:.{digits}f}%"


def display(name: str, value: Any) -> str:
    """Format a :func:`flat` value for people: durations, percentages, averages."""
    if value is None:
        return "-"
    if name.endswith(("_median", "_p90", "_age")):
        return human_duration(value)
    if name.endswith(("_compliance", "_rate", "_share")):
        return percent(value)
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
