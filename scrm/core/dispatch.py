"""The transactional outbox of domain events: record in the transaction, dispatch after it.

A service appends its :mod:`~scrm.core.events` to its own transaction with :func:`record`
(one ``event_batches`` row, the events in order); :func:`transaction` opens such a
transaction, records what was added to its list of events and dispatches them once it has
committed.  Once it has committed, the
:class:`Dispatcher` hands the batch to each *consumer* (a plugin implementing the events'
hooks) in a transaction of the consumer's own: it first writes the ``event_deliveries``
row ``(batch, consumer)``, then calls the consumer's hook for each event, through pluggy
(so hook wrappers and ``SCRM_TRACE_PLUGINS`` see every call), with an
:class:`EventContext`: the application, that transaction's session, the plugin settings,
and ``emit`` for events of its own.  What the consumer writes through ``ctx.session``
commits with its delivery row, so it happens exactly once; a second dispatch of the same
batch (the worker, or another worker) finds the row and skips the consumer.  Effects
outside the database happen at least once.

A process killed between the business commit and the end of the dispatch leaves the batch
with ``dispatched_at`` NULL: the worker's ``events`` task (:meth:`Dispatcher.dispatch_pending`)
hands it to the consumers that have no delivery row yet.  A hook that raises is logged with
the plugin's name; what it wrote is rolled back (a savepoint around each call that uses the
session) and the batch counts as handled by it: a broken plugin is never retried forever.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction

from scrm.core.context import PluginContext
from scrm.core.db import utcnow
from scrm.core.escalation import swept_alerts
from scrm.core.events import CaseEscalated, Event, SlaBreached, SlaSwept, SlaWarning, decode
from scrm.core.models import EventBatch, EventDelivery, StoredEvent
from scrm.core.plugins import only, readable_name

if TYPE_CHECKING:
    from scrm.core.app import Scrm
    from scrm.core.plugins import PluginManager

__all__ = [
    "GRACE",
    "KEEP",
    "Dispatcher",
    "EventContext",
    "Pending",
    "consumer_name",
    "record",
    "recorded",
    "transaction",
]

log = logging.getLogger(__name__)

GRACE = timedelta(seconds=30)
"""How old an undispatched batch must be before the worker takes it over: the process
that wrote it normally dispatches it within moments of its commit."""

KEEP = timedelta(days=7)
"""How long dispatched events are kept (for inspection) before the worker deletes them."""

Pending = tuple[int, Iterable[Event]]
"""A recorded batch: its id and its events (re-iterable: each consumer reads them)."""


def record(session: Session, events: Iterable[Event], *, now: datetime | None = None) -> int:
    """Write ``events`` to the ``events`` table in the caller's transaction; return the batch id.

    Call it after the flush that gives new rows their ids (a :class:`CaseOpened` of a case
    opened in the same transaction names the case's id).  ``events`` may be a lazy
    re-iterable collection (the SLA sweep's alerts): it is read once here.
    """
    now = now or utcnow()
    batch_id: int = session.execute(
        sa.insert(EventBatch).values(created_at=now).returning(EventBatch.id)
    ).scalar_one()
    rows = [
        {"batch_id": batch_id, "position": n, "type": e.hook, "payload": e.payload()}
        for n, e in enumerate(events)
    ]
    if rows:
        # Plain executemany with the keys left to the database (no RETURNING needed).
        session.execute(sa.insert(StoredEvent), rows)
    return batch_id


def consumer_name(name: str, plugin: object) -> str:
    """The name a plugin's deliveries are recorded under, the same in every process.

    A plugin registered without a name (``get_plugin_manager(extra=...)``) is named by
    pluggy after its ``id()``, which another process does not share: it is recorded under
    its class (or module) instead.
    """
    return readable_name(name, plugin)[:128]


class EventContext(PluginContext):
    """What an after-commit hook gets as ``ctx``: use it instead of keeping the application.

    :ivar app: the application the events happened in.
    :ivar consumer: the plugin's name.
    :ivar config: the application's configuration; ``ctx.plugin_config(name)`` a plugin's
        validated settings (see :class:`~scrm.core.context.PluginContext`).
    """

    def __init__(self, app: Scrm, session: Session, consumer: str) -> None:
        super().__init__(app.config, app.context.settings)
        self._root = app.context.for_brand(None)  # brands' contexts are the application's
        self.app = app
        self.consumer = consumer
        self._session = session
        self._savepoint: SessionTransaction | None = None
        self._emitted: list[Event] = []
        self._call: list[Event] = []

    @property
    def session(self) -> Session:
        """The consumer's transaction; it commits with the record that the events were handled."""
        if self._savepoint is None:
            self._savepoint = self._session.begin_nested()
        return self._session

    def emit(self, event: Event) -> None:
        """Raise a domain event; it is recorded in this transaction and dispatched after it."""
        self._call.append(event)

    # -- the dispatcher's side ---------------------------------------------------------------

    def _finish(self, ok: bool) -> None:
        if self._savepoint is not None:
            if ok:
                self._savepoint.commit()
            else:
                self._savepoint.rollback()
            self._savepoint = None
        if ok:
            self._emitted.extend(self._call)
        self._call = []


class Dispatcher:
    """Dispatches recorded event batches to their consumers, once per consumer.

    :param app: the application whose database holds the events.
    """

    def __init__(self, app: Scrm) -> None:
        self.app = app

    @property
    def pm(self) -> PluginManager:
        return self.app.pm

    def consumers(self, hooks: Iterable[str]) -> list[tuple[str, object]]:
        """The plugins implementing any of ``hooks`` (wrappers excepted), in pluggy's call order,
        with the names their deliveries are recorded under (:func:`consumer_name`)."""
        out: dict[str, object] = {}
        for name in hooks:
            for impl in reversed(getattr(self.pm.hook, name).get_hookimpls()):
                if impl.wrapper or impl.hookwrapper or any(p is impl.plugin for p in out.values()):
                    continue
                key = base = consumer_name(impl.plugin_name, impl.plugin)
                n = 1
                while key in out:  # two unnamed instances of one class
                    n += 1
                    key = f"{base}#{n}"
                out[key] = impl.plugin
        return list(out.items())

    def dispatch(self, batch: Pending | None) -> None:
        """Hand a committed batch, and the batches its consumers emit, to every consumer."""
        queue: deque[Pending] = deque([batch] if batch is not None else [])
        while queue:
            batch_id, events = queue.popleft()
            hooks = dict.fromkeys(h for e in events for h in e.hooks())
            consumers = self.consumers(hooks)
            complete = True
            for n, (consumer, plugin) in enumerate(consumers, start=1):
                # The last consumer marks the batch done in its own transaction.
                last = complete and n == len(consumers)
                try:
                    emitted = self._consume(batch_id, events, consumer, plugin, set(hooks), last)
                except Exception:
                    # Its transaction failed (the database went away): the worker retries.
                    log.exception("events of batch %d not handled by %r", batch_id, consumer)
                    complete = False
                    continue
                if emitted is not None:
                    queue.append(emitted)
            if not consumers:
                with self.app.session() as s:
                    _mark_dispatched(s, batch_id)

    def _consume(
        self,
        batch_id: int,
        events: Iterable[Event],
        consumer: str,
        plugin: object,
        hooks: set[str],
        last: bool,
    ) -> Pending | None:
        callers = {h: only(self.pm, h, plugin) for h in hooks}
        with self.app.session() as s:
            if last:
                _mark_dispatched(s, batch_id)
            try:
                with s.begin_nested():
                    s.add(EventDelivery(batch_id=batch_id, consumer=consumer, handled_at=utcnow()))
            except IntegrityError:
                return None  # handled already (by the worker, or the process that wrote it)
            ctx = EventContext(self.app, s, consumer)
            for event in _calls(s, events, callers):
                caller = callers[event.hook]
                try:
                    caller(**event.hook_kwargs(), ctx=ctx)
                except Exception:
                    log.exception("plugin %r failed in %s", consumer, event.hook)
                    ctx._finish(False)
                else:
                    ctx._finish(True)
            if not ctx._emitted:
                return None
            return record(s, ctx._emitted), ctx._emitted

    # -- the worker's side -------------------------------------------------------------------

    def undispatched(self, now: datetime, limit: int = 100) -> list[int]:
        """Batches older than :data:`GRACE` that some consumer has not handled yet."""
        with self.app.session(read_only=True) as s:
            return list(
                s.scalars(
                    sa.select(EventBatch.id)
                    .where(EventBatch.dispatched_at.is_(None), EventBatch.created_at <= now - GRACE)
                    .order_by(EventBatch.id)
                    .limit(limit)
                )
            )

    def load(self, batch_id: int) -> list[Event]:
        """A stored batch's events, rebuilt from their JSON."""
        with self.app.session(read_only=True) as s:
            rows = s.execute(
                sa.select(StoredEvent.type, StoredEvent.payload)
                .where(StoredEvent.batch_id == batch_id)
                .order_by(StoredEvent.position)
            )
            return decode((t, p) for t, p in rows)

    def prune(self, now: datetime | None = None, limit: int = 1000) -> int:
        """Delete up to ``limit`` batches dispatched more than :data:`KEEP` ago; return how many."""
        with self.app.session() as s:
            ids = list(
                s.scalars(
                    sa.select(EventBatch.id)
                    .where(EventBatch.dispatched_at < (now or utcnow()) - KEEP)
                    .order_by(EventBatch.id)
                    .limit(limit)
                )
            )
            if ids:
                for model in (StoredEvent, EventDelivery):
                    s.execute(sa.delete(model).where(model.batch_id.in_(ids)))
                s.execute(sa.delete(EventBatch).where(EventBatch.id.in_(ids)))
        return len(ids)

    def dispatch_pending(self, now: datetime | None = None, limit: int = 100) -> int:
        """Dispatch up to ``limit`` batches left undispatched (the worker); return how many."""
        done = 0
        for batch_id in self.undispatched(now or utcnow(), limit):
            self.dispatch((batch_id, self.load(batch_id)))
            done += 1
        return done


def _calls(session: Session, events: Iterable[Event], callers: dict[str, Any]) -> Iterator[Event]:
    """The events a consumer's hooks (``callers``, None where not implemented) are called with.

    An :class:`~scrm.core.events.SlaSwept` goes as it is to a consumer implementing
    ``sla_swept``; to one implementing only per-alert hooks, it becomes one event per alert
    (read in chunks, only of the kinds it implements), so that those hooks keep their
    once-per-alert contract.
    """
    for event in events:
        if callers.get(event.hook) is not None:
            yield event
        elif isinstance(event, SlaSwept):
            kinds = [k for k, hook in _ALERT_HOOKS.items() if callers.get(hook) is not None]
            if kinds:
                for chunk in swept_alerts(session, event.alerts, kinds):
                    yield from chunk


_ALERT_HOOKS = {
    "warning": SlaWarning.hook,
    "breach": SlaBreached.hook,
    "escalation": CaseEscalated.hook,
}


def _mark_dispatched(session: Session, batch_id: int) -> None:
    session.execute(
        sa.update(EventBatch).where(EventBatch.id == batch_id).values(dispatched_at=utcnow())
    )


def recorded(session: Session, events: Sequence[Event]) -> Pending | None:
    """:func:`record` ``events`` unless there are none (nothing to dispatch, nothing written)."""
    return (record(session, events), events) if events else None


@contextmanager
def transaction(app: Scrm) -> Iterator[tuple[Session, list[Event]]]:
    """One transaction of a service: its session, and the list its domain events go in.

    The events are recorded in the transaction when the block ends, and dispatched once it
    has committed; when the block raises, nothing is written and nothing dispatched.
    """
    events: list[Event] = []
    with app.session() as s:
        yield s, events
        pending = recorded(s, events)
    app.events.dispatch(pending)
