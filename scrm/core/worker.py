"""``scrm worker``: the background work, in one process or shared by many.

Tasks: process received webhook payloads (inbox), deliver replies (outbox) and outgoing
webhooks, check SLA deadlines and escalate, dispatch domain events a killed process left
undispatched (:mod:`scrm.core.dispatch`), assign waiting cases, apply retention, and poll
channels (tasks plugins add with ``register_tasks``).

On PostgreSQL the tasks are jobs of `procrastinate`_, a task queue built on PostgreSQL
(:mod:`scrm.core.taskqueue`): it schedules them, shares them among any number of workers on
any number of machines, runs an exclusive task (polling one mailbox or X account, the SLA
sweep) on one worker at a time, and hands the jobs of a killed worker to another.  It runs a
job *at least* once; the effects are made exactly-once here, by the rows the work is about:
a reply is claimed (``FOR UPDATE SKIP LOCKED`` and a lease) and settled by its outbox row
and idempotency key, a breach by the unique key of ``sla_alerts``, a message by
``(channel, external_id)``.  On SQLite (one machine) :class:`Worker` runs the tasks in one
process by itself.

.. _procrastinate: https://procrastinate.readthedocs.io
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from scrm.core.config import ConfigError
from scrm.core.db import utcnow

if TYPE_CHECKING:
    from scrm.core.app import Scrm

__all__ = ["Settings", "Task", "Worker", "builtin_tasks", "outbox_task"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """How a worker process runs jobs on PostgreSQL (:mod:`scrm.core.taskqueue`).

    :param concurrency: jobs run at once by one worker process (each in a thread).
    :param heartbeat: seconds between the worker's heartbeats.
    :param stalled_after: a worker silent this long is dead; its running jobs are retried.
    :param polling: seconds between polls for jobs (a fallback: LISTEN/NOTIFY wakes workers
        as soon as a job is deferred).
    :param keep_finished: hours finished jobs are kept (failed ones a week).
    """

    concurrency: int = 4
    heartbeat: float = 10.0
    stalled_after: float = 30.0
    polling: float = 5.0
    keep_finished: int = 1


@dataclass
class Task:
    """A unit of background work run every ``interval`` seconds.

    :param run: called with the application and the time; returns a one-line summary.
    :param exclusive: at most one worker runs it at a time (a procrastinate lock on
        PostgreSQL).
    :param more: called before a run on PostgreSQL: True when more work is due than one run
        takes, so that the next run is queued at once for another worker (the outbox).
    """

    name: str
    interval: float
    run: Callable[[Scrm, datetime], str]
    exclusive: bool = True
    more: Callable[[Scrm, datetime], bool] | None = None
    last_run: float = field(default=0.0, compare=False)


def _summary(report: Any) -> str:
    """One line of a task's report: its counters (``sent 3, failed 0``)."""
    if is_dataclass(report) and not isinstance(report, type):
        counts = {
            k: v
            for k, v in asdict(report).items()
            if isinstance(v, int) and not isinstance(v, bool)
        }
        if counts:
            return ", ".join(f"{k} {v}" for k, v in counts.items())
    return str(report)


def outbox_task(batch: int = 100, interval: float = 1.0) -> Task:
    """Deliver due replies, ``batch`` per run; a longer backlog is shared among workers."""
    from scrm.core.models import OutboxMessage

    def run(app: Scrm, now: datetime) -> str:
        from scrm.core.services import outbox

        r = outbox.deliver(app, now=now, limit=batch)
        return f"sent {r.sent}, retrying {r.retried}, failed {r.failed}, reconciled {r.reconciled}"

    def more(app: Scrm, now: datetime) -> bool:
        due = (
            sa.select(OutboxMessage.id)
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
            .limit(batch + 1)
        )
        with app.session() as s:
            return len(s.scalars(due).all()) > batch

    return Task("outbox", interval, run, exclusive=False, more=more)


def _sla(app: Scrm, now: datetime) -> str:
    from scrm.core.services import sla

    alerts = sla.check(app, now=now)
    return f"{len(alerts)} alerts"


def _events(app: Scrm, now: datetime) -> str:
    """Dispatch the domain events a killed process committed and never dispatched; delete
    those dispatched more than a week ago."""
    done = app.events.dispatch_pending(now)
    return f"{done} event batches dispatched, {app.events.prune(now)} old ones deleted"


def _assign(app: Scrm, now: datetime) -> str:
    from scrm.core.services import cases

    return f"{cases.assign_waiting(app, now=now)} cases assigned"


def _inbox(app: Scrm, now: datetime) -> str:
    from scrm.core import inbox

    return _summary(inbox.process_pending(app, now=now))


def _webhooks(app: Scrm, now: datetime) -> str:
    from scrm.core import webhooks

    return _summary(webhooks.deliver(app.Session, app.config.server, now=now))


def _retention(app: Scrm, now: datetime) -> str:
    from scrm.core import retention

    with app.session() as s:
        report = retention.apply_retention(s, app.config.retention, now=now)
    return (
        ", ".join(f"{name} {n}" for name, n in report.classes.items())
        or "no retention periods configured"
    )


def builtin_tasks() -> list[Task]:
    """The core's tasks. Row-claiming tasks may run on every worker at once; sweeps may not.

    The inbox is a sweep: a received payload is not claimed, so two workers would ingest the
    same one (stored once, but the work done twice).
    """
    return [
        Task("inbox", 1.0, _inbox),
        outbox_task(),
        Task("webhooks", 2.0, _webhooks, exclusive=False),
        Task("sla", 60.0, _sla),
        Task("events", 10.0, _events),
        Task("assignment", 30.0, _assign),
        Task("retention", 3600.0, _retention),
    ]


class Worker:
    """Runs the tasks: through procrastinate on PostgreSQL, by itself in one process on SQLite.

    :param settings: the PostgreSQL engine's settings (concurrency, heartbeats).
    """

    def __init__(
        self, app: Scrm, tasks: list[Task] | None = None, settings: Settings | None = None
    ) -> None:
        self.app = app
        self.tasks = tasks if tasks is not None else [*builtin_tasks(), *self._plugin_tasks()]
        self.settings = settings
        self._local = threading.Lock()

    @property
    def queued(self) -> bool:
        """Whether the tasks go through procrastinate (PostgreSQL) or run here (SQLite)."""
        return self.app.engine.dialect.name == "postgresql"

    def _plugin_tasks(self) -> list[Task]:
        found: list[Task] = []

        def register(
            name: str, interval: float, run: Callable[[Scrm, datetime], str], exclusive: bool = True
        ) -> None:
            found.append(Task(name, interval, run, exclusive))

        self.app.pm.hook.register_tasks(register=register)
        return found

    def _select(self, only: set[str] | None) -> list[Task]:
        return [t for t in self.tasks if only is None or t.name in only]

    def _engine(self, tasks: list[Task], report: Callable[[str, str], Any] | None = None) -> Any:
        try:
            from scrm.core.taskqueue import Engine
        except ModuleNotFoundError as exc:  # the postgres extra is not installed
            raise ConfigError(
                f"database_url is PostgreSQL, where scrm worker runs its tasks with "
                f"procrastinate ({exc}); install it with: pip install 'scrm[postgres]'"
            ) from exc
        return Engine(self.app, tasks, self.settings, report=report)

    def run_task(self, task: Task, now: datetime | None = None) -> str:
        """Run ``task`` here and now (SQLite; on PostgreSQL, tasks run as jobs)."""
        with self._local if task.exclusive else nullcontext():
            try:
                return task.run(self.app, now or utcnow())
            except Exception as exc:  # one failing task must not stop the others
                # One line per failure; the traceback only when debugging (-v / DEBUG).
                log.error("task %s failed: %s: %s", task.name, type(exc).__name__, exc)
                log.debug("task %s failed", task.name, exc_info=True)
                return f"failed: {type(exc).__name__}: {exc}"
            finally:
                task.last_run = time.monotonic()

    def run_once(
        self, now: datetime | None = None, only: set[str] | None = None
    ) -> dict[str, str | None]:
        """Run every task (or those named in ``only``) once.

        On PostgreSQL each runs as a job, so an exclusive task whose lock another worker
        holds is skipped (None); ``now`` applies on SQLite only.
        """
        tasks = self._select(only)
        if self.queued:
            result: dict[str, str | None] = self._engine(tasks).run_once()
            return result
        return {t.name: self.run_task(t, now) for t in tasks}

    def run_forever(
        self,
        stop: threading.Event,
        only: set[str] | None = None,
        report: Callable[[str, str], Any] | None = None,
    ) -> None:
        """Run due tasks until ``stop`` is set."""
        tasks = self._select(only)
        if self.queued:
            self._engine(tasks, report).run_forever(stop)
            return
        while not stop.is_set() and tasks:
            for task in tasks:
                if time.monotonic() - task.last_run >= task.interval:
                    summary = self.run_task(task)
                    if report is not None:
                        report(task.name, summary)
            now = time.monotonic()
            stop.wait(max(0.0, min(t.last_run + t.interval - now for t in tasks)))
