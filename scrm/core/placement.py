"""The decide stage of the ingest pipeline: which case each message of a batch lands on.

Pure: it works on what the load step (:func:`scrm.core.pipeline._load_candidates`) read from
the database, as plain values (:class:`Candidates`, :class:`StoredRow`), and on the batch's
cases in memory.  A new case is asked for as a :class:`NewCase` and made by the caller's
``open_case`` (the persist side: it adds the row to the session), so every rule here runs
without a database.

The rules, in the order a customer message meets them (:func:`place_inbound`): the case its
message names, answers, is answered by or shares a thread with (:meth:`CaseContext.linked_case`),
unless that case closed longer ago than the reopen window; then the customer's case it
continues (:meth:`CaseContext.continuing_case`); else a new one.  A brand message lands on the
case of the message it answers (:func:`place_outbound`), opening one for a customer message
that had none.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from scrm.core import cases as case_ops
from scrm.core import conversation
from scrm.core.config import TRIAGE, CasesConfig
from scrm.core.conversation import Message
from scrm.core.models import Case
from scrm.core.schemas import (
    CaseStatus,
    Classification,
    Direction,
    InboundInteraction,
    Kind,
    Priority,
    RouteDecision,
)

__all__ = [
    "TRIAGE",
    "Candidates",
    "CaseContext",
    "Decision",
    "NewCase",
    "StoredRow",
    "before",
    "open_answered",
    "order_key",
    "place_inbound",
    "place_outbound",
]

Key = tuple[str, str]
"""(channel, external id) of a message, or (channel, thread key) of a thread."""


@dataclass(frozen=True)
class Decision:
    """What the classify and route hooks said of an inbound message."""

    cls: Classification
    route: RouteDecision


@dataclass(frozen=True)
class StoredRow:
    """A message already stored, as the placement rules see it (the columns of
    :data:`scrm.core.conversation.MESSAGE_COLUMNS`)."""

    id: int
    channel: str
    external_id: str
    direction: str
    public: bool
    text: str
    subject: str | None
    created_at: datetime
    labels: Mapping[str, Any] | None
    case_id: int | None
    customer_id: int | None
    in_reply_to: str | None


@dataclass(frozen=True)
class Candidates:
    """What the load step read for a batch: the typed input of the decide stage."""

    parents: Mapping[Key, StoredRow] = field(default_factory=dict)
    """Stored messages that a message of the batch answers, by (channel, external id)."""
    children: Mapping[Key, tuple[StoredRow, ...]] = field(default_factory=dict)
    """Stored messages answering a message of the batch, by the (channel, id) they answer."""
    case_by_thread: Mapping[Key, tuple[int, ...]] = field(default_factory=dict)
    """Cases of each thread the batch talks in, oldest first."""
    cases: tuple[Case, ...] = ()
    """The cases the batch can land on: named, linked, or open cases of its customers."""
    roots: Mapping[int, int] = field(default_factory=dict)
    """Each customer of those cases to the customer it was merged into."""


@dataclass(frozen=True)
class NewCase:
    """A case the decide stage asks to open (the persist side makes the row)."""

    customer_id: int
    department: str
    channel: str
    kind: Kind
    category: str
    priority: Priority
    language: str | None
    subject: str
    at: datetime
    pool: str | None


OpenCase = Callable[[NewCase], Case]
DepartmentId = Callable[[str], int]


def order_key(it: InboundInteraction) -> tuple[datetime, bool, str, str]:
    """A batch is placed oldest first; at the same instant the customer before the brand."""
    return (it.created_at, it.direction is Direction.OUTBOUND, it.channel, it.external_id)


def before(at: datetime, window: timedelta) -> datetime:
    """``at - window``, or the earliest time there is when that would be out of range."""
    try:
        return at - window
    except OverflowError:
        return datetime.min.replace(tzinfo=at.tzinfo)


def _activity(case: Case) -> tuple[datetime, int]:
    return (case.last_activity_at, case.id or 0)


class CaseContext:
    """The cases a batch can attach to, from :class:`Candidates`, updated as the batch goes.

    Besides the cases that the batch's messages name, answer or share a thread with, it
    holds the messages already stored that answer a message of the batch (a reply that
    arrived before its parent): they are moved onto the parent's case (:attr:`moves`).
    """

    def __init__(self, candidates: Candidates, config: CasesConfig) -> None:
        self.config = config
        self.new_cases: list[Case] = []
        self.pools: dict[int, str] = {}
        """Routing pool of each new case (by object id), for assignment."""
        self.touched: set[Case] = set()
        self.moves: dict[int, Case] = {}
        """Stored interactions (by id) to move onto a case of this batch."""
        self.moved: dict[Case, list[Message]] = defaultdict(list)
        self.by_message: dict[Key, tuple[int | None, int | None]] = {
            key: (row.case_id, row.customer_id) for key, row in candidates.parents.items()
        }
        self.case_by_thread = candidates.case_by_thread
        self._parents = candidates.parents
        self._children = candidates.children
        self._new_by_message: dict[Key, Case] = {}
        self._new_by_thread: dict[Key, list[Case]] = defaultdict(list)
        loaded = candidates.cases
        self.batch_cases: dict[int, Case] = {c.id: c for c in loaded}
        self.seen = {c: c.last_activity_at for c in loaded}
        """Each loaded case's last activity before this batch: an older message is late."""
        self.roots = dict(candidates.roots)
        # Open cases by (customer, category, department) and by customer: the lookups are
        # dictionary accesses per message, not scans of the batch's cases.
        self._topical: dict[tuple[int, str, int | None], list[Case]] = defaultdict(list)
        self._by_customer: dict[int, list[Case]] = defaultdict(list)
        for case in loaded:
            self._index(case)

    def root(self, customer_id: int) -> int:
        return self.roots.get(customer_id, customer_id)

    def _mine(self, case: Case | None, customer: int | None) -> bool:
        return case is not None and (customer is None or self.root(case.customer_id) == customer)

    def linked_case(self, it: InboundInteraction, customer: int | None) -> Case | None:
        """The case the message names, or of the message it answers, of a message answering
        it, or of its thread: only a case of ``customer`` (a thread can hold several people).
        """
        if it.case_id is not None and it.case_id in self.batch_cases:
            return self.batch_cases[it.case_id]
        if it.direction is Direction.OUTBOUND and it.public and not it.in_reply_to:
            return None  # the brand's own post, not an answer: on no customer's case
        if it.in_reply_to:
            key = (it.channel, it.in_reply_to)
            case = self._new_by_message.get(key) or self._loaded(self.by_message.get(key))
            if case is not None and (
                it.direction is Direction.OUTBOUND or self._mine(case, customer)
            ):
                return case
        for row in self._children.get((it.channel, it.external_id), ()):
            case = self.batch_cases.get(row.case_id) if row.case_id is not None else None
            if self._mine(case, customer):
                return case
        if it.thread_key:
            key = (it.channel, it.thread_key)
            for case in self._new_by_thread.get(key, ()):
                if self._mine(case, customer):
                    return case
            for case_id in self.case_by_thread.get(key, ()):
                if self._mine(self.batch_cases.get(case_id), customer):
                    return self.batch_cases[case_id]
        return None

    def _loaded(self, entry: tuple[int | None, int | None] | None) -> Case | None:
        if entry is None or entry[0] is None:
            return None
        return self.batch_cases.get(entry[0])

    def answered(self, it: InboundInteraction) -> bool:
        """Whether a brand message already stored answers ``it``."""
        return any(
            row.direction == Direction.OUTBOUND.value
            for row in self._children.get((it.channel, it.external_id), ())
        )

    def parent_customer(self, it: InboundInteraction) -> int | None:
        if not it.in_reply_to:
            return None
        return self.by_message.get((it.channel, it.in_reply_to), (None, None))[1]

    def caseless_parent(self, it: InboundInteraction) -> StoredRow | None:
        """The stored customer message that ``it`` answers, when it has no case."""
        row = self._parents.get((it.channel, it.in_reply_to)) if it.in_reply_to else None
        if row is None or row.id in self.moves:
            return None
        if row.case_id is None and row.direction == Direction.INBOUND.value and row.customer_id:
            return row
        return None

    def can_continue(self, case: Case, at: datetime) -> bool:
        """Whether a customer's message may land on ``case``: open, or closed recently."""
        if case.status != CaseStatus.CLOSED:
            return True
        closed = case.closed_at or case.last_activity_at
        return at - closed <= self.config.reopen_window

    def continuing_case(
        self,
        customer: int,
        it: InboundInteraction,
        cls: Classification,
        department_id: int,
        at: datetime,
        window: Any,
    ) -> Case | None:
        """The customer's open case that this message continues, if any.

        In order: the case waiting on the customer (the details the brand asked for, on any
        channel); the most recently active open case of the same category and department
        within ``window``; for a message of no kind of its own ("any news?"), the customer's
        most recently active open case.  A new public post of its own (not a reply) on the
        channel where the brand already answered that case starts a new conversation: it
        continues the case only while the brand has not answered.
        """
        window_start = before(at, self.config.continue_window)
        recent = [
            c
            for c in self._by_customer.get(customer, ())
            # Active within the window before this message, or opened after it (this message
            # arrived late, and the case holds what followed it).
            if c.status in case_ops.OPEN_STATUSES
            and (window_start <= c.last_activity_at <= at or c.opened_at >= at)
        ]
        waiting = [c for c in recent if c.waiting_since is not None]
        if waiting:
            return max(waiting, key=_activity)
        new_post = it.public and not it.in_reply_to and it.thread_key in (None, it.external_id)

        def answered_here(case: Case) -> bool:
            return new_post and case.channel == it.channel and case.first_response_at is not None

        best = None
        for case in self._topical.get((customer, cls.category, department_id), ()):
            if (
                case.status in case_ops.OPEN_STATUSES
                and at - case.last_activity_at <= window
                and not answered_here(case)
                and (best is None or _activity(case) > _activity(best))
            ):
                best = case
        if best is None and cls.kind is Kind.OTHER:
            best = max((c for c in recent if not answered_here(c)), key=_activity, default=None)
        return best

    def _index(self, case: Case) -> None:
        root = self.root(case.customer_id)
        self._topical[(root, case.category, case.department_id)].append(case)
        self._by_customer[root].append(case)

    def touch(self, case: Case, at: datetime) -> None:
        if at > case.last_activity_at:
            case.last_activity_at = at
        self.touched.add(case)

    def add_new(self, case: Case, pool: str | None = None) -> None:
        self.new_cases.append(case)
        if pool:
            self.pools[id(case)] = pool
        self.roots[case.customer_id] = case.customer_id
        self.touched.add(case)
        self._index(case)

    def move(self, row: Any, case: Case) -> None:
        """Put a stored interaction on ``case`` (it arrived before what it answers)."""
        self.moves[row.id] = case
        self.moved[case].append(conversation.message_of_row(row))
        self.by_message[(row.channel, row.external_id)] = (case.id, row.customer_id)
        self._new_by_message[(row.channel, row.external_id)] = case
        self.touch(case, row.created_at)

    def remember(self, it: InboundInteraction, case: Case | None, customer_id: int | None) -> None:
        key = (it.channel, it.external_id)
        self.by_message[key] = (case.id if case is not None else None, customer_id)
        if case is None:
            return
        self._new_by_message[key] = case
        if it.thread_key and case not in self._new_by_thread[(it.channel, it.thread_key)]:
            self._new_by_thread[(it.channel, it.thread_key)].append(case)
        # Replies stored before this message, that found no case then, belong on its case.
        for row in self._children.get(key, ()):
            if (
                row.case_id is None
                and row.id not in self.moves
                and (
                    row.direction == Direction.OUTBOUND.value
                    or row.customer_id is None
                    or self.root(row.customer_id) == self.root(case.customer_id)
                )
            ):
                self.move(row, case)


def _open(ctx: CaseContext, open_case: OpenCase, spec: NewCase) -> Case:
    case = open_case(spec)
    ctx.add_new(case, spec.pool)
    return case


def place_inbound(
    ctx: CaseContext,
    it: InboundInteraction,
    customer_id: int | None,
    decision: Decision,
    *,
    window: timedelta,
    department_id: DepartmentId,
    open_case: OpenCase,
) -> Case | None:
    """The case a customer message lands on (None: on none), opening one if it needs one.

    ``customer_id`` is the customer its author resolved to (None: no author); ``window``
    how recent a case of the same matter must be to continue.
    """
    cls, route = decision.cls, decision.route
    customer = ctx.root(customer_id) if customer_id is not None else None
    linked = ctx.linked_case(it, customer)
    if it.noise is not None:
        # An auto-reply or a bounce joins its thread for the record but is no customer
        # activity: it neither reopens, nor resumes clocks, nor opens a case.
        return linked
    if linked is not None and ctx.can_continue(linked, it.created_at):
        ctx.touch(linked, it.created_at)
        return linked
    if customer_id is None or customer is None:
        return None
    if route.department is None:
        if not ctx.answered(it):
            return None
        # Read as spam (say), but the brand answered it: it needs a case after all.
        route = route.model_copy(update={"department": TRIAGE})
        cls = cls.model_copy(update={"kind": Kind.QUESTION})
    assert route.department is not None
    dep_id = department_id(route.department)
    going_on = ctx.continuing_case(customer, it, cls, dep_id, it.created_at, window)
    if going_on is not None:
        ctx.touch(going_on, it.created_at)
        return going_on
    return _open(
        ctx,
        open_case,
        NewCase(
            customer_id=customer_id,
            department=route.department,
            channel=it.channel,
            kind=cls.kind,
            category=cls.category,
            priority=route.priority,
            language=cls.language,
            subject=it.subject or it.text,
            at=it.created_at,
            pool=route.pool,
        ),
    )


def open_answered(
    ctx: CaseContext,
    open_case: OpenCase,
    customer_id: int,
    parent: Any,
    msg: Message,
    department: str = TRIAGE,
    priority: Priority = Priority.NORMAL,
) -> Case:
    """Open a case (in triage) for a customer message that had none: ``parent`` is the
    message (stored or of this batch), ``msg`` it as the loop sees it."""
    cls = msg.cls or Classification()
    return _open(
        ctx,
        open_case,
        NewCase(
            customer_id=customer_id,
            department=department,
            channel=parent.channel,
            kind=cls.kind if cls.kind is not Kind.SPAM else Kind.QUESTION,
            category=cls.category,
            priority=priority,
            language=cls.language,
            subject=parent.subject or parent.text,
            at=msg.at,
            pool=None,
        ),
    )


def place_outbound(
    ctx: CaseContext, it: InboundInteraction, customer_id: int | None, open_case: OpenCase
) -> tuple[Case | None, int | None]:
    """A brand message goes to the case of the message it answers, opening one if needed.

    ``customer_id`` is the customer its recipient resolved to; returns the case and the
    customer the message is about.
    """
    customer_id = ctx.parent_customer(it) or customer_id
    case = ctx.linked_case(it, ctx.root(customer_id) if customer_id is not None else None)
    if case is None:
        parent = ctx.caseless_parent(it)
        if parent is not None:
            # The brand answered a message that had no case (read as spam, say): the
            # answer shows it needed one.
            assert parent.customer_id is not None
            msg = conversation.message_of_row(parent)
            case = open_answered(ctx, open_case, parent.customer_id, parent, msg)
            ctx.move(parent, case)
    if case is not None:
        customer_id = customer_id or case.customer_id
        ctx.touch(case, it.created_at)
    return case, customer_id
