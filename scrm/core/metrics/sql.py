"""SQL building blocks shared by the metrics queries: slices, durations, percentiles.

Durations are whole seconds: each timestamp is truncated to the second (its Unix epoch)
before subtracting, on both databases, so SQLite and PostgreSQL return identical numbers.

Percentiles are *continuous* percentiles with linear interpolation, PostgreSQL's
``percentile_cont``: for ``n`` sorted values ``v[0..n-1]`` and fraction ``p``, with
``pos = p * (n - 1)``, ``lo = floor(pos)``, ``hi = ceil(pos)``, the result is
``v[lo] + (v[hi] - v[lo]) * (pos - lo)`` (the double arithmetic of PostgreSQL's
``percentile_cont``).  The database returns each (slice, channel) group's durations in one
row; Python sorts them, picks ``v[lo]`` and ``v[hi]`` in every grouping and interpolates,
the same on both databases.  The median is ``p = 0.5`` (the mean of the two middle values
for an even count).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause, Select

from scrm.core.models import Agent, Brand, Case, Department

__all__ = [
    "DIMENSIONS",
    "Dimension",
    "Groupings",
    "Runs",
    "concat_values",
    "epoch",
    "grouped_values",
    "parse_values",
    "percentiles",
    "percentiles_of",
    "side_expr",
    "wait_seconds",
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


def _join_brand(f: FromClause) -> FromClause:
    return f.join(Brand, Brand.id == Case.brand_id)


#: The core's slices of ``scrm report --by``.  Plugins add theirs through the
#: ``register_report_dimensions`` hook (the marketing module's ``campaign``): a
#: :class:`Dimension` whose value is one value per case (a column reached through ``join``,
#: or a correlated scalar subquery), so slices add up.
DIMENSIONS: dict[str, Dimension] = {
    "channel": Dimension("channel", lambda: Case.channel),
    "department": Dimension("department", lambda: Department.code, _join_department),
    "category": Dimension("category", lambda: Case.category),
    "priority": Dimension("priority", lambda: Case.priority),
    "agent": Dimension("agent", lambda: Agent.username, _join_agent),
    "language": Dimension("language", lambda: Case.language),
    "kind": Dimension("kind", lambda: Case.kind),
    "brand": Dimension("brand", lambda: Brand.key, _join_brand),
}


def epoch(session: Session, col: Any) -> ColumnElement[int]:
    """Whole Unix seconds of a timestamp column (truncated), the same on both databases."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.floor(sa.extract("epoch", col)), sa.BigInteger)
    return sa.cast(sa.func.strftime("%s", col), sa.BigInteger)


def wait_seconds(session: Session, raw: Any, most: int) -> ColumnElement[Any]:
    """Whole seconds of ``raw.wait_seconds`` when it is a JSON number from 0 to ``most``,
    else NULL, on both databases.

    The tests are nested CASEs, evaluated in order: a string, an object or a huge number
    there is NULL, never a failed cast.
    """
    if session.get_bind().dialect.name == "postgresql":
        number = sa.func.jsonb_typeof(raw.op("->")("wait_seconds")) == "number"
        value: Any = sa.cast(raw.op("->>")("wait_seconds"), sa.Numeric)
        whole: Any = sa.func.floor(value)
    else:
        number = sa.func.json_type(raw, "$.wait_seconds").in_(("integer", "real"))
        value = sa.func.json_extract(raw, "$.wait_seconds")
        whole = value  # CAST truncates, which is floor for the values let through
    in_range = sa.case((value.between(0, most), sa.cast(whole, sa.BigInteger)), else_=None)
    return sa.case((number, in_range), else_=None)


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


_Stats = tuple[int, float | None, float | None]
#: ``{(slice key, channel): [sorted values, one list per column]}``
Runs = dict[tuple[str | None, str | None], list[list[int]]]


@dataclass(frozen=True)
class Groupings:
    """The groupings percentiles are answered for, besides the slice (namespace ``key``).

    Namespaces: ``key`` (the slice), ``channel`` (only when ``channel`` is true, i.e. the
    slice is not the channel itself), ``side`` (social or traditional) and ``total``.
    """

    traditional: tuple[str, ...]
    channel: bool
    total: str = "all"

    def side(self, channel: str | None) -> str:
        return "traditional" if channel in self.traditional else "social"


def percentiles(
    session: Session,
    groupings: Groupings,
    source: Select[Any],
    columns: Sequence[str] = ("d",),
) -> dict[str, dict[tuple[str, str | None], _Stats]]:
    """Return ``{column: {(namespace, key): (count, median, p90)}}`` of ``source``'s columns.

    :param source: a SELECT with ``key`` and ``channel`` columns and the duration
        ``columns`` (whole seconds; NULL values are left out of that column's percentiles).
    :param columns: the duration columns; all of them, in every grouping, come from one
        statement over one scan of ``source``.

    Neither database ranks rows cheaply in every grouping at once (PostgreSQL's
    ``percentile_cont`` sorts once per grouping set, SQLite's window functions once per
    window), so each finest group (slice, channel) returns its durations as one string
    (``string_agg`` / ``group_concat``); Python sorts each group, merges the sorted runs
    into the coarser groupings and interpolates.  Memory: one integer per value.
    """
    return percentiles_of(groupings, grouped_values(session, source, columns), columns)


def grouped_values(session: Session, source: Select[Any], columns: Sequence[str] = ("d",)) -> Runs:
    """Return ``{(key, channel): [sorted values of each column]}`` of ``source``.

    NULLs are left out.  One row per finest group (slice, channel), its values as one string: no row per case
    crosses into Python.
    """
    src = source.subquery("metric_source")
    stmt = sa.select(
        src.c.key, src.c.channel, *(concat_values(session, src.c[c]) for c in columns)
    ).group_by(src.c.key, src.c.channel)
    runs: Runs = {}
    for key, channel, *texts in session.connection().execute(stmt):
        runs[(key, channel)] = [sorted(parse_values(t)) for t in texts]
    return runs


def concat_values(session: Session, col: Any) -> ColumnElement[Any]:
    """The group's non-NULL integers of ``col`` as one comma-separated string (or NULL)."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.string_agg(sa.cast(col, sa.Text), ",")
    return sa.func.group_concat(col)


def parse_values(text: str | None) -> list[int]:
    """The integers of a :func:`concat_values` string."""
    return list(map(int, text.split(","))) if text else []


def percentiles_of(
    groupings: Groupings, runs: Runs, columns: Sequence[str] = ("d",)
) -> dict[str, dict[tuple[str, str | None], _Stats]]:
    """The percentiles of :func:`grouped_values` in every grouping (see :func:`percentiles`)."""
    members: dict[tuple[str, str | None], list[tuple[str | None, str | None]]] = {}
    for key, channel in runs:
        targets: list[tuple[str, str | None]] = [("key", None if key is None else str(key))]
        if groupings.channel:
            targets.append(("channel", channel))
        targets += [("side", groupings.side(channel)), ("total", groupings.total)]
        for t in targets:
            members.setdefault(t, []).append((key, channel))
    out: dict[str, dict[tuple[str, str | None], _Stats]] = {}
    for i, column in enumerate(columns):
        found: dict[tuple[str, str | None], _Stats] = {}
        for target, parts in members.items():
            if len(parts) == 1:
                values = runs[parts[0]][i]
            else:  # merging sorted runs: Timsort finds them and only merges
                values = sorted(itertools.chain.from_iterable(runs[p][i] for p in parts))
            if values:
                found[target] = _order_stats(values)
        out[column] = found
    return out


def _order_stats(values: list[int]) -> _Stats:
    n = len(values)
    stats: list[float | None] = []
    for p in PERCENTILES:
        pos = p * (n - 1)
        lo = int(pos)  # truncation is floor: pos >= 0
        hi = lo + 1 if pos > lo else lo
        stats.append(interpolate(values[lo], values[hi], n, p))
    return n, stats[0], stats[1]
