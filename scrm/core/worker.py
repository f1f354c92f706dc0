"""``scrm worker``: the background work, in one process or shared by many.

Tasks: process received webhook payloads (inbox), deliver replies (outbox) and outgoing
webhooks, check SLA deadlines and escalate, assign waiting cases, apply retention, and poll
channels (tasks plugins add with ``register_tasks``).

Coordination uses PostgreSQL itself; nothing here is a queue.  The work items already are
rows with their own states, written in the same transaction as the change that caused them
(a reply in ``outbox``, a delivery in ``inbox``, a missed deadline in ``cases``): workers
claim rows with ``SELECT ... FOR UPDATE SKIP LOCKED`` and a lease, so two workers never take
the same row and a killed worker's rows return after their lease; effects are made
exactly-once by unique keys (``sla_alerts``, ``(channel, external_id)``, idempotency keys).
A task that must not run twice at once (polling one mailbox or X account, the SLA sweep)
runs under a PostgreSQL advisory lock named after it, so any number of workers on any number
of machines can run the same task list.  On SQLite (one machine) the worker runs alone.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from scrm.core.db import utcnow

if TYPE_CHECKING:
    from scrm.core.app import Scrm

__all__ = ["Task", "Worker", "builtin_tasks"]

log = logging.getLogger(__name__)


@dataclass
class Task:
    """A unit of background work run every ``interval`` seconds.

    :param run: called with the application and the time; returns a one-line summary.
    :param exclusive: at most one worker runs it at a time (an advisory lock on PostgreSQL).
    """

    name: str
    interval: float
    run: Callable[[Scrm, datetime], str]
    exclusive: bool = True
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


def _outbox(app: Scrm, now: datetime) -> str:
    r = app.workflow.deliver(now=now)
    return f"sent {r.sent}, retrying {r.retried}, failed {r.failed}, reconciled {r.reconciled}"


def _sla(app: Scrm, now: datetime) -> str:
    alerts = app.workflow.check_sla(now=now)
    return f"{len(alerts)} alerts"


def _assign(app: Scrm, now: datetime) -> str:
    return f"{app.workflow.drain(now=now)} cases assigned"


def _inbox(app: Scrm, now: datetime) -> str:
    from scrm.core import inbox

    return _summary(inbox.process_pending(app))


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
    """The core's tasks. Row-claiming tasks may run on every worker at once; sweeps may not."""
    return [
        Task("inbox", 1.0, _inbox, exclusive=False),
        Task("outbox", 1.0, _outbox, exclusive=False),
        Task("webhooks", 2.0, _webhooks, exclusive=False),
        Task("sla", 60.0, _sla),
        Task("assignment", 30.0, _assign),
        Task("retention", 3600.0, _retention),
    ]


class Worker:
    """Runs tasks when due; several workers can share one PostgreSQL database."""

    def __init__(self, app: Scrm, tasks: list[Task] | None = None) -> None:
        self.app = app
        self.tasks = tasks if tasks is not None else [*builtin_tasks(), *self._plugin_tasks()]
        self._local = threading.Lock()

    def _plugin_tasks(self) -> list[Task]:
        found: list[Task] = []

        def register(
            name: str, interval: float, run: Callable[[Scrm, datetime], str], exclusive: bool = True
        ) -> None:
            found.append(Task(name, interval, run, exclusive))

        self.app.pm.hook.register_tasks(register=register)
        return found

    @contextmanager
    def _lock(self, task: Task) -> Iterator[bool]:
        """Hold the task's lock for the duration; yield False if another worker holds it."""
        if not task.exclusive:
            yield True
            return
        if self.app.engine.dialect.name != "postgresql":
            with self._local:
                yield True
            return
        key = int.from_bytes(
            hashlib.sha256(f"scrm-task:{task.name}".encode()).digest()[:8], "big", signed=True
        )
        with self.app.engine.connect() as conn:
            got = conn.scalar(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key})
            try:
                yield bool(got)
            finally:
                if got:
                    conn.scalar(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()

    def run_task(self, task: Task, now: datetime | None = None) -> str | None:
        """Run ``task`` now if its lock is free; return its summary, or None if skipped."""
        with self._lock(task) as mine:
            if not mine:
                return None
            try:
                return task.run(self.app, now or utcnow())
            except Exception as exc:  # one failing task must not stop the others
                log.exception("task %s failed", task.name)
                return f"failed: {type(exc).__name__}: {exc}"
            finally:
                task.last_run = time.monotonic()

    def run_once(
        self, now: datetime | None = None, only: set[str] | None = None
    ) -> dict[str, str | None]:
        """Run every task (or those named in ``only``) once."""
        return {t.name: self.run_task(t, now) for t in self.tasks if only is None or t.name in only}

    def run_forever(
        self,
        stop: threading.Event,
        only: set[str] | None = None,
        report: Callable[[str, str], Any] | None = None,
    ) -> None:
        """Run due tasks until ``stop`` is set, sleeping only until the next one is due."""
        tasks = [t for t in self.tasks if only is None or t.name in only]
        while not stop.is_set() and tasks:
            for task in tasks:
                if time.monotonic() - task.last_run >= task.interval:
                    summary = self.run_task(task)
                    if summary is not None and report is not None:
                        report(task.name, summary)
            now = time.monotonic()
            stop.wait(max(0.0, min(t.last_run + t.interval - now for t in tasks)))
