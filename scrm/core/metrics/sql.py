"""SQL building blocks shared by the metrics queries: slices, durations, percentiles.

Durations are whole seconds: each timestamp is truncated to the second (its Unix epoch)
before subtracting, on both databases, so SQLite and PostgreSQL return identical numbers.

Percentiles are *continuous* percentiles with linear interpolation, PostgreSQL's
``percentile_cont``: for ``n`` sorted values ``v[0..n-1]`` and fraction ``p``, with
``pos = p * (n - 1)``, ``lo = floor(pos)``, ``hi = ceil(pos)``, the result is
``v[lo] + (v[hi] - v[lo]) * (pos - lo)``.  PostgreSQL computes it with ``percentile_cont``;
SQLite picks ``v[lo]`` and ``v[hi]`` with ``ROW_NUMBER()`` over the slice ordered by the
duration, and Python interpolates with the same double arithmetic, so both agree exactly.
The median is ``p = 0.5`` (the mean of the two middle values for an even count).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause, Select

from scrm.core.department_models import CampaignLink
from scrm.core.models import Agent, Case, Department, Interaction

__all__ = [
    "DIMENSIONS",
    "Dimension",
    "epoch",
    "percentiles",
    "side_expr",
]

PERCENTILES = (0.5, 0.9)


@dataclass(frozen=True)
class Dimension:
    """A way to slice cases: a label and how to reach its value from ``cases``.

    ``join`` adds the tables the value needs to a FROM clause that contains ``cases``;
    ``value`` is the SQL expression of the slice key (a string, or NULL for "none").
    """

    name: str
    value: Callable[[], Any]
    join: Callable[[FromClause], FromClause] = lambda f: f


def _join_department(f: FromClause) -> FromClause:
    return f.outerjoin(Department, Department.id == Case.department_id)


def _join_agent(f: FromClause) -> FromClause:
    return f.outerjoin(Agent, Agent.id == Case.assignee_id)


def _campaign() -> ColumnElement[Any]:
    # A case can touch several campaigns; it counts once, under the alphabetically first
    # campaign any of its messages was linked to, so slices add up to the total.
    linked = aliased(Interaction)
    return (
        sa.select(sa.func.min(CampaignLink.campaign))
        .join(linked, linked.id == CampaignLink.interaction_id)
        .where(linked.case_id == Case.id)
        .scalar_subquery()
    )


#: The slices ``scrm report --by`` offers.  Extension point: to slice by something else,
#: add a :class:`Dimension` whose value is one value per case (a column reached through
#: ``join``, or a correlated scalar subquery like ``campaign``), so slices add up.
DIMENSIONS: dict[str, Dimension] = {
    "channel": Dimension("channel", lambda: Case.channel),
    "department": Dimension("department", lambda: Department.code, _join_department),
    "category": Dimension("category", lambda: Case.category),
    "priority": Dimension("priority", lambda: Case.priority),
    "agent": Dimension("agent", lambda: Agent.username, _join_agent),
    "language": Dimension("language", lambda: Case.language),
    "kind": Dimension("kind", lambda: Case.kind),
    "campaign": Dimension("campaign", _campaign),
}


def epoch(session: Session, col: Any) -> ColumnElement[int]:
    """Whole Unix seconds of a timestamp column (truncated), the same on both databases."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.floor(sa.extract("epoch", col)), sa.BigInteger)
    return sa.cast(sa.func.strftime("%s", col), sa.BigInteger)


def side_expr(channel: Any, traditional: Sequence[str]) -> ColumnElement[str]:
    """``'traditional'`` for a channel column in ``traditional``, else ``'social'``."""
    return sa.case(
        (channel.in_(list(traditional)), sa.literal("traditional")), else_=sa.literal("social")
    )


def interpolate(lo: float | None, hi: float | None, n: int, p: float) -> float | None:
    """Continuous percentile from the two order statistics around ``p * (n - 1)``."""
    if n == 0 or lo is None or hi is None:
        return None
    pos = p * (n - 1)
    frac = pos - math.floor(pos)
    return float(lo) + (float(hi) - float(lo)) * frac


def percentiles(
    session: Session,
    groupings: Sequence[tuple[str, Any]],
    source: Select[Any],
) -> dict[tuple[str, str | None], tuple[int, float | None, float | None]]:
    """Return ``{(namespace, key): (count, median, p90)}`` of ``source``'s ``d`` column.

    :param groupings: ``(namespace, f)`` pairs; ``f(cte)`` is the key expression over the
        source's columns.  All groupings are answered by one statement over one scan.
    :param source: a SELECT with a ``d`` column (whole seconds) and the key columns.
    """
    cte = source.cte("metric_source")
    branches = [
        sa.select(sa.literal(ns).label("ns"), sa.cast(f(cte), sa.String).label("grp"), cte.c.d)
        for ns, f in groupings
    ]
    rows = (
        sa.union_all(*branches).subquery("rows")
        if len(branches) > 1
        else branches[0].subquery("rows")
    )
    out: dict[tuple[str, str | None], tuple[int, float | None, float | None]] = {}
    if session.get_bind().dialect.name == "postgresql":
        pg = sa.select(
            rows.c.ns,
            rows.c.grp,
            sa.func.count(),
            *(sa.func.percentile_cont(p).within_group(rows.c.d) for p in PERCENTILES),
        ).group_by(rows.c.ns, rows.c.grp)
        for ns, grp, n, med, p90 in session.execute(pg):
            out[(ns, grp)] = (n, med, p90)
        return out
    part = (rows.c.ns, rows.c.grp)
    ranked = sa.select(
        rows.c.ns,
        rows.c.grp,
        rows.c.d,
        sa.func.row_number().over(partition_by=part, order_by=rows.c.d).label("rn"),
        sa.func.count().over(partition_by=part).label("n"),
    ).subquery("ranked")
    picks: list[ColumnElement[Any]] = []
    for p in PERCENTILES:
        pos = sa.literal(p, sa.Float) * (ranked.c.n - 1)
        lo = sa.cast(pos, sa.Integer)  # truncation is floor: pos >= 0
        hi = lo + sa.case((pos > lo, 1), else_=0)
        picks.append(sa.func.max(sa.case((ranked.c.rn == lo + 1, ranked.c.d))))
        picks.append(sa.func.max(sa.case((ranked.c.rn == hi + 1, ranked.c.d))))
    lite = sa.select(ranked.c.ns, ranked.c.grp, ranked.c.n, *picks).group_by(
        ranked.c.ns, ranked.c.grp, ranked.c.n
    )
    for ns, grp, n, lo50, hi50, lo90, hi90 in session.execute(lite):
        out[(ns, grp)] = (
            n,
            interpolate(lo50, hi50, n, PERCENTILES[0]),
            interpolate(lo90, hi90, n, PERCENTILES[1]),
        )
    return out
