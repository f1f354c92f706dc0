"""Durations in business time: only the hours a business calendar counts.

Business time depends on a calendar (opening hours, holidays, a time zone with its DST
rules) that SQL cannot evaluate portably, so each case's business durations are computed in
Python with :func:`scrm.core.sla.time_between`, the same arithmetic the SLA clocks use.
Memory stays bounded: the period's cases are read in keyset-paged batches of
:data:`BATCH` and their durations written to a temporary table; the percentiles are then
the same SQL statement as for clock time (:func:`scrm.core.metrics.sql.percentiles`).

Which calendar: the one of the SLA policy the ``choose_sla`` hook picks for each group of
cases with the same channel, department, kind, category, priority and language (or the
``[report] business_calendar`` of the configuration, for every case).  A case whose policy
has no calendar counts around the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from scrm.core import sla
from scrm.core.metrics.sql import Groupings, percentiles
from scrm.core.models import Brand, Case, Department
from scrm.core.schemas import BusinessCalendar

__all__ = ["BATCH", "business_percentiles"]

BATCH = 5000
_Result = dict[tuple[str, str | None], tuple[int, float | None, float | None]]


def _seconds(a: datetime, b: datetime, cal: BusinessCalendar | None) -> int:
    # Truncate to the second like the SQL durations, so clock and business time agree
    # exactly when the calendar is open around the clock.
    a, b = a.replace(microsecond=0), b.replace(microsecond=0)
    if cal is None:
        return int((b - a).total_seconds())
    return int(sla.time_between(a, b, cal).total_seconds())


def business_percentiles(
    session: Session,
    *,
    cases_from: FromClause,
    key: ColumnElement[Any],
    cohort: ColumnElement[bool],
    calendar_for: Callable[[tuple[str | None, ...]], BusinessCalendar | None],
    groupings: Groupings,
) -> dict[str, _Result] | None:
    """Return business-time percentiles of first response (``fr``) and resolution (``res``).

    :returns: ``{metric: {(namespace, key): (count, median, p90)}}``, or ``None`` when no
        case of the period has a business calendar.
    """
    dept = aliased(Department)
    brand = aliased(Brand)
    frm = cases_from.outerjoin(dept, dept.id == Case.department_id).outerjoin(
        brand, brand.id == Case.brand_id
    )
    combo_cols = (
        Case.channel,
        dept.code,
        Case.kind,
        Case.category,
        Case.priority,
        Case.language,
        brand.key,
    )
    combos = session.execute(sa.select(*combo_cols).select_from(frm).where(cohort).distinct())
    calendars = {tuple(row): calendar_for(tuple(row)) for row in combos}
    if not any(calendars.values()):
        return None

    tmp = sa.Table(
        "scrm_metrics_business",
        sa.MetaData(),
        sa.Column("key", sa.String(255)),
        sa.Column("channel", sa.String(32)),
        sa.Column("metric", sa.String(8)),
        sa.Column("d", sa.BigInteger),
        prefixes=["TEMPORARY"],
    )
    conn = session.connection()
    tmp.create(conn)
    try:
        last = 0
        while True:
            page = session.execute(
                sa.select(
                    Case.id,
                    key.label("key"),
                    Case.opened_at,
                    Case.first_response_at,
                    Case.resolved_at,
                    *combo_cols,
                )
                .select_from(frm)
                .where(cohort, Case.id > last)
                .order_by(Case.id)
                .limit(BATCH)
            ).all()
            if not page:
                break
            rows: list[dict[str, Any]] = []
            for cid, k, opened, fr_at, res_at, *combo in page:
                cal = calendars.get(tuple(combo))
                for metric, end in (("fr", fr_at), ("res", res_at)):
                    if end is not None:
                        d = _seconds(opened, end, cal)
                        rows.append({"key": k, "channel": combo[0], "metric": metric, "d": d})
                last = cid
            if rows:
                conn.execute(tmp.insert(), rows)
        found = {}
        for metric in ("fr", "res"):
            src = sa.select(tmp.c.key, tmp.c.channel, tmp.c.d).where(tmp.c.metric == metric)
            found[metric] = percentiles(session, groupings, src)["d"]
        return found
    finally:
        tmp.drop(conn)
