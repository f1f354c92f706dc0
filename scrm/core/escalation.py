"""SLA sweep and the escalation ladder: warnings, breaches, and acting on them.

``check_deadlines`` is set-based: one query finds every (case, clock) whose deadline is near
or past and that still owes an alert, and the alerts, the case changes and their events are
written with one statement each, however many cases are overdue.  For each deadline it
records a warning, a breach, and each rung of the escalation ladder whose delay has passed:
a case a year late gets one breach and the ladder's steps, not one alert per missed hour.

Every alert is a row of ``sla_alerts``, unique per (case, clock, round, kind, level), so it
fires exactly once however often the sweep runs; sweeps take turns (SQLite's write lock,
a PostgreSQL advisory lock), so several workers never fire one twice.  ``round`` names the
deadline, not its due time, so a deadline that moves (a paused clock resumed late) does not
fire again.  Escalation acts: it reassigns and raises priority as the ladder says, and each
step is a case event.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast, overload

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from scrm.core import cases as case_ops
from scrm.core.config import CasesConfig, EscalationStep
from scrm.core.db import UTCDateTime, chunks, insert_rows
from scrm.core.events import CaseEscalated, Event, SlaBreached, SlaWarning
from scrm.core.models import Agent, Brand, Case, CaseEvent, Department, FollowUp, SlaAlert
from scrm.core.schemas import CaseInfo, Priority, SlaPolicy, SweptAlerts

__all__ = ["Alert", "Alerts", "Sweep", "check_deadlines", "escalate", "overdue", "swept_alerts"]

_RAISE = {
    Priority.LOW: Priority.NORMAL,
    Priority.NORMAL: Priority.HIGH,
    Priority.HIGH: Priority.URGENT,
    Priority.URGENT: Priority.URGENT,
}
#: Warnings reach at most a day ahead.
WARN_HORIZON = timedelta(hours=24)
#: pg_advisory_xact_lock key that makes concurrent sweeps take turns ("scrm-sla" in ASCII).
_SWEEP_LOCK = 0x73_63_72_6D_2D_73_6C_61


@dataclass(frozen=True)
class Alert:
    """A warning, breach or escalation step that fired (for hooks and reports)."""

    case_id: int
    clock: str
    due_at: datetime
    kind: str
    level: int
    detail: str


@dataclass(frozen=True)
class Sweep:
    """What one sweep fired: how many alerts, and their rows' range (None if none fired)."""

    fired: int = 0
    swept: SweptAlerts | None = None


class Alerts(Sequence[Alert]):
    """The alerts of a sweep, in order, read from ``sla_alerts`` when first indexed or
    iterated: ``len`` and :meth:`counts` do not build a million objects for a backlog.

    :param session: opens a session (``app.session``) to read them after the sweep.
    """

    def __init__(
        self, session: Callable[..., AbstractContextManager[Session]], sweep: Sweep
    ) -> None:
        self._session = session
        self._sweep = sweep
        self._items: list[Alert] | None = None

    def _read(self) -> list[Alert]:
        if self._items is None:
            swept = self._sweep.swept
            if swept is None:
                self._items = []
            else:
                with self._session(read_only=True) as s:
                    self._items = _read_alerts(s, swept)
        return self._items

    def __len__(self) -> int:
        return self._sweep.fired

    @overload
    def __getitem__(self, index: int) -> Alert: ...
    @overload
    def __getitem__(self, index: slice) -> list[Alert]: ...
    def __getitem__(self, index: int | slice) -> Alert | list[Alert]:
        return self._read()[index]

    def __iter__(self) -> Iterator[Alert]:
        return iter(self._read())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Alerts({self._read()!r})"

    def counts(self) -> dict[tuple[str, str], int]:
        """How many alerts fired per (clock, kind): one ``GROUP BY``."""
        swept = self._sweep.swept
        if swept is None:
            return {}
        with self._session(read_only=True) as s:
            return {
                (clock, kind): n
                for clock, kind, n in s.execute(
                    sa.select(SlaAlert.clock, SlaAlert.kind, sa.func.count())
                    .where(SlaAlert.id.between(swept.first_id, swept.last_id))
                    .group_by(SlaAlert.clock, SlaAlert.kind)
                )
            }


def _target(session: Session, case: Case, to: str) -> Agent | None:
    if to == "assignee":
        return case.assignee
    if to in ("lead", "head"):
        if case.department_id is None:
            return None
        return session.scalars(
            sa.select(Agent)
            .where(
                Agent.department_id == case.department_id,
                Agent.role == to,
                Agent.status != "offline",
            )
            .order_by(Agent.id)
        ).first()
    return session.scalars(sa.select(Agent).where(Agent.username == to)).first()


def escalate(
    session: Session,
    case: Case,
    step: EscalationStep,
    *,
    reason: str,
    at: datetime,
    actor: str = "system",
) -> str:
    """Apply one ladder step to ``case``; record what was done as events; return a summary."""
    agent = _target(session, case, step.to)
    done = []
    if "reassign" in step.actions and agent is not None and case.assignee_id != agent.id:
        old = case.assignee.username if case.assignee else None
        case.assignee_id = agent.id
        case.assignee = agent
        case_ops.add_event(
            session,
            case,
            "assign",
            actor=actor,
            at=at,
            from_value=old,
            to_value=agent.username,
            note=f"escalation: {reason}",
        )
        done.append(f"reassigned to {agent.username}")
    if "raise_priority" in step.actions:
        old_p = Priority(case.priority)
        new_p = _RAISE[old_p]
        if new_p is not old_p:
            case.priority = new_p.value
            case_ops.add_event(
                session,
                case,
                "priority",
                actor=actor,
                at=at,
                from_value=old_p.value,
                to_value=new_p.value,
                note=f"escalation: {reason}",
            )
            done.append(f"priority {old_p.value} -> {new_p.value}")
    if "notify" in step.actions:
        done.append(f"notified {agent.username if agent else step.to + ' (nobody found)'}")
    case.escalation_level += 1
    case.version += 1
    summary = "; ".join(done) or "nothing to do"
    case_ops.add_event(
        session,
        case,
        "escalated",
        actor=actor,
        at=at,
        to_value=step.to,
        note=f"{reason}: {summary}",
    )
    return summary


# -- the sweep -----------------------------------------------------------------------------


_Filter = Callable[[str, Any, Any], Any]


def _due_clocks(
    horizon: datetime, keep: _Filter | None = None, top: _Filter | None = None
) -> sa.Subquery:
    """(case, clock, round, due) of every open case's pending deadline up to ``horizon``.

    ``keep(clock, round, due)`` adds a condition per clock, evaluated once per case row;
    ``top(clock, round, due)``, a column ``top``.
    """
    promise = (
        sa.select(sa.func.min(FollowUp.id))
        .where(FollowUp.case_id == Case.id, FollowUp.closed_at.is_(None))
        .correlate(Case)  # also inside the alert lookups nested in the clock's query
        .scalar_subquery()
    )

    def clock(name: str, round_: Any, due: Any, *extra: Any) -> sa.Select[Any]:
        if keep is not None:
            extra += (keep(name, round_, due),)
        columns = [] if top is None else [top(name, round_, due).label("top")]
        return sa.select(
            Case.id.label("case_id"),
            sa.literal_column(f"'{name}'").label("clock"),
            round_.label("round"),
            due.label("due_at"),
            *columns,
        ).where(
            Case.status.in_(case_ops.OPEN_STATUSES),
            Case.next_due <= horizon,  # the (open, next_due) index: only cases due soon
            due <= horizon,
            *extra,
        )

    return sa.union_all(
        clock(
            "first_response",
            sa.literal_column("0"),
            Case.first_response_due,
            Case.first_response_at.is_(None),
        ),
        clock("follow_up", sa.func.coalesce(promise, 0), Case.follow_up_due),
        clock("resolution", sa.literal_column("0"), Case.resolution_due),
    ).subquery("due")


def _not_fired(case_id: Any, clock: Any, round_: Any, kind: str) -> Any:
    """Whether no alert ``kind`` has fired for the deadline: one seek in the unique key.

    A scalar subquery, not ``NOT EXISTS``: PostgreSQL turns the latter into an anti-join,
    and with a freshly analysed, empty ``sla_alerts`` it may scan the table once per
    deadline while the same statement fills it.
    """
    return (
        sa.select(sa.literal(1))
        .where(
            SlaAlert.case_id == case_id,
            SlaAlert.clock == clock,
            SlaAlert.round == round_,
            SlaAlert.kind == kind,
        )
        .limit(1)
        .scalar_subquery()
        .is_(None)
    )


_ALERT_COLUMNS = ("case_id", "clock", "round", "due_at", "kind", "level", "fired_at")


def _fire(session: Session, ladder: Sequence[EscalationStep], now: datetime) -> None:
    """Insert every breach and ladder step owed at ``now``: one ``INSERT ... SELECT``.

    A sweep fires every step due, so the steps of a deadline that have fired are the breach
    (level 0) and the escalations up to the highest one: one index seek per deadline reads
    it, a deadline whose last step due has fired is settled, and the others are joined with
    the steps above it.
    """
    until = [("breach", 0, now)] + [
        ("escalation", n, now - step.after) for n, step in enumerate(ladder, start=1)
    ]

    def fired_top(clock: str, round_: Any) -> Any:
        """The highest step fired for the deadline (0 the breach), -1 if none."""
        return (
            sa.select(sa.func.coalesce(sa.func.max(SlaAlert.level), -1))
            .where(
                SlaAlert.case_id == Case.id,
                SlaAlert.clock == clock,
                SlaAlert.round == round_,
                SlaAlert.kind != "warning",
            )
            .scalar_subquery()
        )

    def unsettled(clock: str, round_: Any, due: Any) -> Any:
        last = sa.case(*((due <= t, n) for _k, n, t in reversed(until)), else_=-1)
        return fired_top(clock, round_) < last

    # Materialised: the deadlines are found (and the settled ones skipped) once, not once per
    # step the planner might loop over.
    due = (
        _due_clocks(now, unsettled, lambda clock, round_, _due: fired_top(clock, round_))
        .select()
        .cte("owed")
        .prefix_with("MATERIALIZED")
    )
    steps = sa.union_all(
        *(
            sa.select(
                sa.literal(k, sa.String).label("kind"),
                sa.literal(n, sa.Integer).label("level"),
                sa.literal(t, UTCDateTime()).label("until"),
            )
            for k, n, t in until
        )
    ).subquery("steps")
    rows = (
        sa.select(
            due.c.case_id,
            due.c.clock,
            due.c.round,
            due.c.due_at,
            steps.c.kind,
            steps.c.level,
            sa.literal(now, UTCDateTime()),
        )
        .select_from(due)
        .join(steps, sa.and_(due.c.due_at <= steps.c.until, steps.c.level > due.c.top))
    )
    session.execute(sa.insert(SlaAlert).from_select(_ALERT_COLUMNS, rows))


def _minute(session: Session, column: Any) -> Any:
    """``column`` as "YYYY-MM-DD HH:MM" text in UTC, for event notes written in SQL."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM-DD HH24:MI")
    return sa.func.substr(column, 1, 16)  # SQLite stores "YYYY-MM-DD HH:MM:SS.ffffff" in UTC


def _events(session: Session, now: datetime, rows: sa.Select[Any]) -> None:
    """Insert a case event for each of ``rows`` (case_id, action, from, to, note); one statement."""
    data_type = cast(sa.Table, CaseEvent.__table__).c.data.type
    session.execute(
        sa.insert(CaseEvent).from_select(
            ("case_id", "action", "from_value", "to_value", "note", "at", "actor", "data"),
            rows.add_columns(
                sa.literal(now, UTCDateTime()), sa.literal("system"), sa.literal({}, data_type)
            ),
        )
    )


def _new(floor: int, kind: str, level: int | None = None) -> Any:
    """This sweep's alerts of ``kind`` (and ``level``): ids above the sweep's starting point."""
    cond = [SlaAlert.id > floor, SlaAlert.kind == kind]
    if level is not None:
        cond.append(SlaAlert.level == level)
    return sa.and_(*cond)


def _target_id(to: str) -> Any:
    """The agent a step goes to, per case (a correlated subquery on ``cases``)."""
    if to == "assignee":
        return Case.assignee_id
    if to in ("lead", "head"):
        return (
            sa.select(Agent.id)
            .where(
                Agent.department_id == Case.department_id,
                Agent.role == to,
                Agent.status != "offline",
            )
            .order_by(Agent.id)
            .limit(1)
            .scalar_subquery()
        )
    return sa.select(Agent.id).where(Agent.username == to).scalar_subquery()


_RAISED = sa.case(
    (Case.priority == Priority.LOW.value, Priority.NORMAL.value),
    (Case.priority == Priority.NORMAL.value, Priority.HIGH.value),
    else_=Priority.URGENT.value,
)


def _climb(session: Session, floor: int, level: int, step: EscalationStep, now: datetime) -> None:
    """Apply ladder step ``level`` to every case this sweep brought to it: once per case.

    The events are written first (they read the case as it was), then one UPDATE changes
    the cases.  The ``escalated`` event carries the step in ``from_value`` and what was done
    in its note, in the words of :func:`escalate`.
    """
    reached = (
        sa.select(SlaAlert.case_id, sa.func.min(SlaAlert.clock).label("clock"))
        .where(_new(floor, "escalation", level))
        .group_by(SlaAlert.case_id)
        .subquery("reached")
    )
    target, old = aliased(Agent), aliased(Agent)
    target_id = _target_id(step.to)
    reassign = "reassign" in step.actions and step.to != "assignee"
    bump = "raise_priority" in step.actions
    moves = sa.and_(
        target.id.is_not(None), sa.or_(Case.assignee_id.is_(None), Case.assignee_id != target.id)
    )
    raises = Case.priority != Priority.URGENT.value
    reason = reached.c.clock + f" missed (step {level})"
    base = (
        sa.select()
        .select_from(reached)
        .join(Case, Case.id == reached.c.case_id)
        .outerjoin(target, target.id == target_id)
        .outerjoin(old, old.id == Case.assignee_id)
    )
    parts: list[Any] = []
    if reassign:
        _events(
            session,
            now,
            base.add_columns(
                Case.id,
                sa.literal("assign"),
                old.username,
                target.username,
                "escalation: " + reason,
            ).where(moves),
        )
        parts.append(sa.case((moves, "reassigned to " + target.username + "; "), else_=""))
    if bump:
        _events(
            session,
            now,
            base.add_columns(
                Case.id, sa.literal("priority"), Case.priority, _RAISED, "escalation: " + reason
            ).where(raises),
        )
        parts.append(
            sa.case((raises, "priority " + Case.priority + " -> " + _RAISED + "; "), else_="")
        )
    if "notify" in step.actions:
        nobody = f"{step.to} (nobody found)"
        parts.append("notified " + sa.func.coalesce(target.username, nobody))
    summary: Any = sa.literal("")
    for part in parts:
        summary = summary + part
    summary = sa.func.coalesce(sa.func.nullif(sa.func.rtrim(summary, "; "), ""), "nothing to do")
    _events(
        session,
        now,
        base.add_columns(
            Case.id,
            sa.literal("escalated"),
            sa.literal(str(level)),
            sa.literal(step.to),
            reason + ": " + summary,
        ),
    )
    changes: dict[str, Any] = {
        "escalation_level": Case.escalation_level + 1,
        "version": Case.version + 1,
    }
    if reassign:
        new_id = _target_id(step.to)
        changes["assignee_id"] = sa.func.coalesce(new_id, Case.assignee_id)
    if bump:
        changes["priority"] = _RAISED
    session.execute(
        sa.update(Case)
        .where(Case.id.in_(sa.select(reached.c.case_id)))
        .values(changes)
        .execution_options(synchronize_session=False)
    )


def check_deadlines(
    session: Session,
    *,
    now: datetime,
    config: CasesConfig,
    policy_for: Callable[[CaseInfo], SlaPolicy | None],
) -> Sweep:
    """Fire every warning, breach and ladder step that is due at ``now``, each exactly once.

    A constant number of statements whatever the number of cases: breaches and ladder steps
    are found and written by ``INSERT ... SELECT``, their events too, and each step changes
    its cases with one ``UPDATE``.  Only warnings pass through Python, because the policy
    (a hook) says when they start; ``policy_for`` is asked only about deadlines in their
    warning horizon.  A step acts once per case in a sweep, however many of its clocks
    reached it.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_SWEEP_LOCK)))
        # The alert lookups must seek the unique index.  Right after an ANALYZE of an empty
        # sla_alerts the planner prefers scanning it, once per deadline, while the very
        # statement that reads it fills it: quadratic.  For this transaction only.
        session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    ladder = sorted(config.escalation, key=lambda s: s.after)
    floor = session.scalar(sa.select(sa.func.coalesce(sa.func.max(SlaAlert.id), 0))) or 0
    events_floor = session.scalar(sa.select(sa.func.coalesce(sa.func.max(CaseEvent.id), 0))) or 0
    _warn(session, now, policy_for)
    _fire(session, ladder, now)
    _events(
        session,
        now,
        sa.select(
            SlaAlert.case_id,
            sa.literal("sla_breach"),
            sa.null(),
            SlaAlert.clock,
            SlaAlert.clock + " was due " + _minute(session, SlaAlert.due_at) + " UTC",
        ).where(_new(floor, "breach")),
    )
    for level, step in enumerate(ladder, start=1):
        _climb(session, floor, level, step, now)
    _break_promises(session, now)
    return _read_sweep(session, floor, events_floor, now)


def _warn(
    session: Session, now: datetime, policy_for: Callable[[CaseInfo], SlaPolicy | None]
) -> None:
    """Fire the warnings whose window has started; the policy of each case says when."""
    due = _due_clocks(
        now + WARN_HORIZON,
        lambda clock, round_, at: sa.and_(at > now, _not_fired(Case.id, clock, round_, "warning")),
    )
    rows = session.execute(
        sa.select(due, *_CASE_COLUMNS)
        .join(Case, Case.id == due.c.case_id)
        .join(Brand, Brand.id == Case.brand_id)
        .outerjoin(Department, Department.id == Case.department_id)
    )
    alerts, events = [], []
    for r in rows:
        policy = policy_for(case_ops.case_info(cast(Any, r), r.department, r.brand))
        warn = policy.warn_before if policy else None
        if warn and r.due_at - warn <= now:
            key = {"case_id": r.case_id, "clock": r.clock, "round": r.round, "due_at": r.due_at}
            alerts.append(key | {"kind": "warning", "level": 0, "fired_at": now})
            events.append(
                {
                    "case_id": r.case_id,
                    "at": now,
                    "actor": "system",
                    "action": "sla_warning",
                    "to_value": r.clock,
                    "note": f"{r.clock} due {r.due_at:%Y-%m-%d %H:%M} UTC",
                    "data": {},
                }
            )
    insert_rows(session, SlaAlert, alerts)
    insert_rows(session, CaseEvent, events)


_CASE_COLUMNS = (
    Brand.key.label("brand"),
    Case.id,
    Case.customer_id,
    Case.channel,
    Department.code.label("department"),
    Case.kind,
    Case.category,
    Case.priority,
    Case.status,
    Case.language,
    Case.opened_at,
)


_ALERT_ROW = (SlaAlert.case_id, SlaAlert.clock, SlaAlert.due_at, SlaAlert.kind, SlaAlert.level)
_ALERT_ORDER = (SlaAlert.due_at, SlaAlert.case_id, SlaAlert.clock, SlaAlert.kind, SlaAlert.level)


def _summaries(
    session: Session, first_event_id: int, last_event_id: int, case_ids: Collection[int] | None
) -> dict[tuple[int, int], str]:
    """What each ladder step did, by (case, level): the notes of the sweep's ``escalated``
    events (of ``case_ids`` only, unless None)."""
    q = sa.select(CaseEvent.case_id, CaseEvent.from_value, CaseEvent.note).where(
        CaseEvent.id.between(first_event_id, last_event_id), CaseEvent.action == "escalated"
    )
    if case_ids is not None:
        q = q.where(CaseEvent.case_id.in_(case_ids))
    return {
        (case_id, int(level or 0)): (note or "").split(": ", 1)[-1]
        for case_id, level, note in session.connection().execute(q)
    }


def _detail(said: dict[tuple[int, int], str], case_id: int, clock: str, kind: str, level: int) -> str:
    if kind == "escalation":
        return said.get((case_id, level), "")
    return f"{clock} {'due soon' if kind == 'warning' else 'missed'}"


def _read_sweep(session: Session, floor: int, events_floor: int, now: datetime) -> Sweep:
    """How many alerts this sweep fired, and the range of its rows (two queries)."""
    conn = session.connection()
    fired, last_id = conn.execute(
        sa.select(sa.func.count(), sa.func.max(SlaAlert.id)).where(SlaAlert.id > floor)
    ).one()
    if not fired:
        return Sweep()
    last_event = conn.scalar(sa.select(sa.func.coalesce(sa.func.max(CaseEvent.id), 0))) or 0
    swept = SweptAlerts(
        first_id=floor + 1,
        last_id=last_id,
        first_event_id=events_floor + 1,
        last_event_id=last_event,
        swept_at=now,
    )
    return Sweep(fired, swept)


def _read_alerts(session: Session, swept: SweptAlerts) -> list[Alert]:
    """Every alert of a sweep, in order (two queries)."""
    said = _summaries(session, swept.first_event_id, swept.last_event_id, None)
    return [
        Alert(case_id, clock, due_at, kind, level, _detail(said, case_id, clock, kind, level))
        for case_id, clock, due_at, kind, level in session.connection().execute(
            sa.select(*_ALERT_ROW)
            .where(SlaAlert.id.between(swept.first_id, swept.last_id))
            .order_by(*_ALERT_ORDER)
        )
    ]


def swept_alerts(
    session: Session,
    swept: SweptAlerts,
    kinds: Collection[str] | None = None,
    size: int = 1000,
) -> Iterator[list[Event]]:
    """The alerts of a sweep as the per-alert domain events, ``size`` at a time, in order.

    ``kinds`` keeps only ``warning``, ``breach`` and/or ``escalation`` alerts.  Each chunk
    costs two or three queries: the cases are read as they stand now (for the dispatch
    right after the sweep, as the sweep left them).
    """
    conn = session.connection()
    q = sa.select(*_ALERT_ROW).where(SlaAlert.id.between(swept.first_id, swept.last_id))
    if kinds is not None:
        q = q.where(SlaAlert.kind.in_(kinds))
    rows = conn.execute(q.order_by(*_ALERT_ORDER)).all()
    for part in chunks(rows, size):
        ids = {r.case_id for r in part}
        cases = {
            r.id: case_ops.case_info(cast(Any, r), r.department, r.brand)
            for r in conn.execute(
                sa.select(*_CASE_COLUMNS)
                .join(Brand, Brand.id == Case.brand_id)
                .outerjoin(Department, Department.id == Case.department_id)
                .where(Case.id.in_(ids))
            )
        }
        said = (
            _summaries(session, swept.first_event_id, swept.last_event_id, ids)
            if any(r.kind == "escalation" for r in part)
            else {}
        )
        events: list[Event] = []
        for case_id, clock, due_at, kind, level in part:
            case = cases[case_id]
            if kind == "warning":
                events.append(SlaWarning(case=case, clock=clock, due_at=due_at))
            elif kind == "breach":
                events.append(SlaBreached(case=case, clock=clock, due_at=due_at))
            else:
                summary = _detail(said, case_id, clock, kind, level)
                events.append(
                    CaseEscalated(case=case, level=level, reason=f"{clock} missed", summary=summary)
                )
        yield events


def _break_promises(session: Session, now: datetime) -> None:
    """Mark overdue promises of open cases broken (one statement).

    They stay pending (the ladder keeps climbing) until contact closes them.
    """
    open_cases = sa.select(Case.id).where(Case.status.in_(case_ops.OPEN_STATUSES))
    session.execute(
        sa.update(FollowUp)
        .where(
            FollowUp.status == "open",
            FollowUp.due_at <= now,
            FollowUp.closed_at.is_(None),
            FollowUp.case_id.in_(open_cases),
        )
        .values(status="broken")
        .execution_options(synchronize_session=False)
    )


def overdue(session: Session, now: datetime) -> dict[str, int]:
    """Count the open cases past a deadline at ``now``: in all (``cases``) and per clock.

    One query over the (open, next_due) index, for summaries that must not list every case.
    """

    def past(*cond: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((sa.and_(*cond), 1), else_=0)), 0)

    row = session.execute(
        sa.select(
            sa.func.count().label("cases"),
            past(Case.first_response_at.is_(None), Case.first_response_due <= now).label(
                "first_response"
            ),
            past(Case.follow_up_due <= now).label("follow_up"),
            past(Case.resolution_due <= now).label("resolution"),
        ).where(Case.status.in_(case_ops.OPEN_STATUSES), Case.next_due <= now)
    ).one()
    return dict(row._mapping)
