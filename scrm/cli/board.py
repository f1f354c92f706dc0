"""The case board of ``scrm cases list``: one line per case, as wide as the terminal.

The layout is computed here rather than left to the table: the columns that must stay whole
(case, markers, status, priority, channel, due) keep their width, the customer and the
subject share what is left and are cut at a word with an ellipsis, and the department and
then the customer are left out when the terminal is too narrow for them.  ``--wide`` shows
every column and cuts nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from scrm.cli.context import GAP, line_table
from scrm.core.queries import CaseOut

__all__ = ["MARKERS", "build_board", "due_in", "markers", "replies"]

#: Every marker the board can show, with its legend.
MARKERS = {
    "!": "past a deadline",
    "F": "a reply failed",
    "P": "a reply waits to be sent",
    "E": "escalated",
    "R": "reopened",
}

def replies(c: CaseOut) -> str:
    """Undelivered replies of a case: ``1 FAILED, 2 pending`` (``-`` for none)."""
    parts = []
    if c.replies_failed:
        parts.append(f"{c.replies_failed} FAILED")
    if c.replies_pending:
        parts.append(f"{c.replies_pending} pending")
    return ", ".join(parts) or "-"


def markers(c: CaseOut) -> str:
    """The markers of a case, in the order of :data:`MARKERS`."""
    flags = {
        "!": c.breaching,
        "F": c.replies_failed > 0,
        "P": c.replies_pending > 0,
        "E": c.escalation_level > 0,
        "R": c.reopen_count > 0,
    }
    return "".join(m for m in MARKERS if flags[m])


def due_in(due: datetime | None, now: datetime) -> str:
    """A deadline relative to ``now``: ``in 45m``, ``in 5h``, ``3d late`` (``-`` for none)."""
    if due is None:
        return "-"
    delta = due - now
    span = _span(abs(delta))
    return f"in {span}" if delta >= timedelta(0) else f"{span} late"


def _span(d: timedelta) -> str:
    minutes = int(d.total_seconds()) // 60
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 48 * 60:
        return f"{minutes // 60}h"
    return f"{minutes // (24 * 60)}d"


@dataclass(frozen=True)
class _Column:
    header: str
    value: Callable[[CaseOut], str]
    justify: str = "left"


def _columns(time: Callable[[datetime | None], str], now: datetime, wide: bool) -> list[_Column]:
    cols = [
        _Column("case", lambda c: str(c.id), justify="right"),
        _Column("", markers),
        _Column("status", lambda c: c.status),
        _Column("prio", lambda c: c.priority),
        _Column("dept", lambda c: c.department or "-"),
        _Column("channel", lambda c: c.channel),
        _Column("customer", lambda c: c.customer_name or f"#{c.customer_id}"),
        _Column("due", lambda c: due_in(c.next_due, now), justify="right"),
    ]
    if wide:
        cols += [
            _Column("due at", lambda c: time(c.next_due) or "-"),
            _Column("opened", lambda c: time(c.opened_at)),
            _Column("kind", lambda c: c.kind),
            _Column("category", lambda c: c.category),
            _Column("assignee", lambda c: c.assignee or "-"),
            _Column("replies", replies),
        ]
    cols.append(_Column("subject", lambda c: c.subject or ""))
    return cols


#: Narrowest useful customer and subject columns; below them a column is left out.
MIN_CUSTOMER, MIN_SUBJECT = 8, 16
#: Widest customer column when the subject could use the room.
MAX_CUSTOMER = 20


def _fit(cols: list[_Column], cells: list[list[str]], width: int) -> dict[str, int]:
    """Column widths for ``width`` cells; columns left out are missing from the result."""
    natural = {
        c.header: max([cell_len(c.header), *(cell_len(r[i]) for r in cells)])
        for i, c in enumerate(cols)
    }
    keep = [c.header for c in cols]
    for drop in ("", "dept", "customer"):
        if drop:
            keep.remove(drop)
        fixed = sum(natural[h] for h in keep if h not in ("customer", "subject"))
        room = width - fixed - GAP * (len(keep) - 1)
        need = MIN_SUBJECT + (MIN_CUSTOMER if "customer" in keep else 0)
        if room >= need:
            break
    widths = {h: natural[h] for h in keep}
    if "customer" in keep:
        # The subject says more than the name: the customer gets a third of the room at most.
        widths["customer"] = max(MIN_CUSTOMER, min(natural["customer"], MAX_CUSTOMER, room // 3))
        room -= widths["customer"]
    widths["subject"] = max(1, min(natural["subject"], room))
    return widths


def build_board(
    cases: Sequence[CaseOut],
    *,
    console: Console,
    time: Callable[[datetime | None], str],
    now: datetime,
    wide: bool = False,
) -> tuple[Table, int]:
    """Return the board of ``cases`` and the width to print it at.

    :param time: formats an instant for a person (the configured zone).
    :param wide: every column, nothing cut (the table may be wider than the terminal).
    """
    cols = _columns(time, now, wide)
    cells = [[c.value(case) for c in cols] for case in cases]
    if wide:
        widths = {
            c.header: max([cell_len(c.header), *(cell_len(r[i]) for r in cells)])
            for i, c in enumerate(cols)
        }
    else:
        widths = _fit(cols, cells, console.width)
    shown = [(i, c) for i, c in enumerate(cols) if c.header in widths]
    t = line_table(
        [c.header for _, c in shown],
        [[row[i] for i, _ in shown] for row in cells],
        [widths[c.header] for _, c in shown],
        right={n for n, (_, c) in enumerate(shown) if c.justify == "right"},
    )
    total = sum(widths.values()) + GAP * (len(widths) - 1)
    return t, total
