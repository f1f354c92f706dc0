"""The worker's engine on PostgreSQL: scrm's tasks as procrastinate jobs.

`procrastinate <https://procrastinate.readthedocs.io>`_ (a task queue built on PostgreSQL)
does the scheduling, the distribution and the retries; scrm keeps what makes the *effects*
exactly-once.  procrastinate runs a job at least once, so every scrm task is idempotent:

- Each :class:`~scrm.core.worker.Task` is a procrastinate task named ``scrm:<name>`` in a
  queue of the same name, deferred periodically (procrastinate's periodic tasks: every
  worker proposes the job, the database keeps one per tick) with a *queueing lock*, so at
  most one job of a task waits at a time whatever the number of workers.
- An exclusive task (polling one mailbox or X account, the SLA sweep) also has a *lock*:
  procrastinate runs at most one job with the same lock at a time, on any machine.
- A task with a backlog (``Task.more``: the outbox has more due replies than one job takes)
  defers its next job before it starts working, so idle workers take the next batch at
  once (PostgreSQL LISTEN/NOTIFY wakes them).  Rows are still claimed inside the job with
  ``FOR UPDATE SKIP LOCKED`` and a lease: that is what keeps two jobs off the same reply.
- A worker killed mid-job (kill -9) stops sending heartbeats; its jobs are *stalled* and
  ``scrm:retry-stalled`` (every few seconds, on every worker) hands them back to the queue,
  where another worker runs them.  The rows the dead job had claimed are settled by the
  outbox's reconciliation (ask the channel whether the reply went out; never re-send on a
  guess), breaches by the unique key of ``sla_alerts``, messages by ``(channel,
  external_id)``.

Only PostgreSQL uses this module (``procrastinate`` comes with the ``postgres`` extra); on
SQLite, :class:`~scrm.core.worker.Worker` runs the tasks in one process by itself.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any

import procrastinate
from procrastinate import exceptions as pexc
from procrastinate.job_context import JobContext
from procrastinate.jobs import Job
from sqlalchemy.engine import make_url

from scrm.core.db import normalize_url, utcnow
from scrm.core.worker import Settings

if TYPE_CHECKING:
    from scrm.core.app import Scrm
    from scrm.core.worker import Task

__all__ = ["MAINTENANCE", "Engine", "conninfo", "cron_for", "job_name"]

log = logging.getLogger(__name__)

#: The queue of the engine's own upkeep: retrying stalled jobs, removing finished ones.
MAINTENANCE = "scrm:maintenance"
#: Prefix of the private queue of one ``scrm worker --once`` run.
ONCE = "scrm-once:"
#: ``--once`` jobs go before periodic ones waiting on the same lock.
ONCE_PRIORITY = 10


def conninfo(url: str) -> str:
    """The libpq connection string of a SQLAlchemy PostgreSQL URL (``postgresql+psycopg://``)."""
    parsed = make_url(normalize_url(url))
    if not parsed.drivername.startswith("postgresql"):
        raise ValueError(f"procrastinate needs PostgreSQL, not {parsed.drivername}")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _step(n: int, divisors: tuple[int, ...]) -> int:
    return max(d for d in divisors if d <= n)


def cron_for(seconds: float) -> str:
    """A cron schedule (procrastinate's, with seconds) for "every ``seconds``".

    Intervals are rounded down to a step that divides the minute, hour or day evenly
    (45 s runs every 30 s; 90 min every hour), so that every worker computes the same ticks.
    """
    s = max(1, round(seconds))
    if s < 60:
        step = _step(s, (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30))
        return "* * * * * *" if step == 1 else f"* * * * * */{step}"
    if s < 3600:
        step = _step(s // 60, (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30))
        return "* * * * *" if step == 1 else f"*/{step} * * * *"
    if s < 86400:
        step = _step(s // 3600, (1, 2, 3, 4, 6, 8, 12))
        return "0 * * * *" if step == 1 else f"0 */{step} * * *"
    return "0 0 * * *"


def job_name(task: Task) -> str:
    """The procrastinate task (and queue, and lock) name of a scrm task."""
    return f"scrm:{task.name}"


class Engine:
    """scrm's tasks registered on a procrastinate :class:`~procrastinate.App`.

    :param tasks: the tasks this worker runs (it listens to their queues only).
    :param report: called with a task's name and summary after each job.
    """

    def __init__(
        self,
        app: Scrm,
        tasks: list[Task],
        settings: Settings | None = None,
        report: Callable[[str, str], Any] | None = None,
    ) -> None:
        self.app = app
        self.tasks = tasks
        self.settings = settings or Settings()
        self.report = report
        self.results: dict[int, str] = {}
        """Summaries of the jobs of a :meth:`run_once` (a long-running worker keeps none)."""
        self._keep_results = False
        self.papp = procrastinate.App(
            connector=procrastinate.PsycopgConnector(
                conninfo=conninfo(app.config.database_url),
                min_size=1,
                max_size=self.settings.concurrency + 4,
            )
        )
        self.jobs = {t.name: self._register(t) for t in tasks}
        self._retry_stalled = self.papp.task(
            name="scrm:retry-stalled", queue=MAINTENANCE, pass_context=True
        )(self._retry_stalled_jobs)
        self._cleanup = self.papp.task(name="scrm:remove-old-jobs", queue=MAINTENANCE)(
            self._remove_old_jobs
        )

    @property
    def queues(self) -> list[str]:
        return [*(job_name(t) for t in self.tasks), MAINTENANCE]

    def _register(self, task: Task) -> Any:
        name = job_name(task)

        async def run(context: JobContext, timestamp: int | None = None) -> str:
            now = utcnow()
            if task.more is not None and await asyncio.to_thread(task.more, self.app, now):
                # More work than one job does: queue the next job now, for an idle worker.
                with suppress(pexc.AlreadyEnqueued):
                    await self.jobs[task.name].configure(queueing_lock=name).defer_async()
            try:
                summary = await asyncio.to_thread(task.run, self.app, now)
            except Exception as exc:
                self._done(context, task, f"failed: {type(exc).__name__}: {exc}")
                raise
            self._done(context, task, summary)
            return summary

        return self.papp.task(
            name=name,
            queue=name,
            pass_context=True,
            lock=name if task.exclusive else None,
        )(run)

    def _done(self, context: JobContext, task: Task, summary: str) -> None:
        assert context.job.id is not None
        if self._keep_results:
            self.results[context.job.id] = summary
        if self.report is not None:
            self.report(task.name, summary)

    def _schedule(self) -> None:
        """Register the periodic deferrals (each worker proposes them; one job per tick)."""
        for task in self.tasks:
            self.papp.periodic(cron=cron_for(task.interval), queueing_lock=job_name(task))(
                self.jobs[task.name]
            )
        self.papp.periodic(
            cron=cron_for(max(1.0, self.settings.stalled_after / 3)),
            queueing_lock="scrm:retry-stalled",
        )(self._retry_stalled)
        self.papp.periodic(cron="0 * * * *", queueing_lock="scrm:remove-old-jobs")(self._cleanup)

    async def _retry_stalled_jobs(self, context: JobContext, timestamp: int | None = None) -> str:
        """Give the jobs of dead workers (no heartbeat for ``stalled_after``) to live ones.

        procrastinate's documented pattern, with one addition: if a job of the same task is
        already waiting (the queueing lock forbids a second one), the waiting job gives way
        to the retried one.  scrm's jobs take no arguments, so both are the same work.
        """
        manager = self.papp.job_manager
        stalled = await manager.get_stalled_jobs(
            seconds_since_heartbeat=self.settings.stalled_after
        )
        retried = 0
        for job in stalled:
            if job.id != context.job.id and await self._retry(job):
                retried += 1
        return f"{retried} stalled jobs retried"

    async def _retry(self, job: Job) -> bool:
        manager = self.papp.job_manager
        # A dead `--once` run's job goes to its task's regular queue, which workers listen to.
        queue = job.task_name if job.queue.startswith(ONCE) else None
        for _ in range(3):
            try:
                await manager.retry_job(job, queue=queue)
            except pexc.UniqueViolation:
                for waiting in await manager.list_jobs_async(
                    queueing_lock=job.queueing_lock, status="todo"
                ):
                    assert waiting.id is not None
                    await manager.cancel_job_by_id_async(waiting.id)
                continue
            except pexc.ConnectorException:  # no longer running: another worker retried it
                return False
            log.warning("job %s (%s) of a dead worker is queued again", job.id, job.task_name)
            return True
        return False

    async def _remove_old_jobs(self, timestamp: int | None = None) -> str:
        manager = self.papp.job_manager
        await manager.delete_old_jobs(
            nb_hours=self.settings.keep_finished, include_cancelled=True, include_aborted=True
        )
        await manager.delete_old_jobs(nb_hours=24 * 7, include_failed=True)
        return "removed"

    def _worker_options(self) -> dict[str, Any]:
        return {
            "concurrency": self.settings.concurrency,
            "update_heartbeat_interval": self.settings.heartbeat,
            "stalled_worker_timeout": self.settings.stalled_after,
            "fetch_job_polling_interval": self.settings.polling,
            "install_signal_handlers": False,
        }

    def run_forever(self, stop: threading.Event) -> None:
        """Run jobs (and propose the periodic ones) until ``stop`` is set."""
        self._schedule()
        asyncio.run(self._run_forever(stop))

    async def _run_forever(self, stop: threading.Event) -> None:
        async with self.papp.open_async():
            worker = asyncio.create_task(
                self.papp.run_worker_async(
                    queues=self.queues, name="scrm-worker", **self._worker_options()
                )
            )
            while not worker.done() and not stop.is_set():
                await asyncio.wait({worker}, timeout=0.2)
            if worker.done():
                worker.result()  # a worker that stopped by itself failed: say why
                return
            worker.cancel()  # graceful: running jobs finish first
            with suppress(asyncio.CancelledError):
                await worker

    def run_once(self) -> dict[str, str | None]:
        """Run each task once, through the queue (so locks hold against running workers).

        Returns each task's summary, or None for an exclusive task whose lock another worker
        holds (its job is cancelled rather than left waiting).
        """
        return asyncio.run(self._run_once())

    async def _run_once(self) -> dict[str, str | None]:
        queue = f"{ONCE}{uuid.uuid4().hex[:12]}"
        self._keep_results = True
        async with self.papp.open_async():
            ids: dict[str, int] = {}
            for task in self.tasks:
                ids[task.name] = await (
                    self.jobs[task.name]
                    .configure(queue=queue, priority=ONCE_PRIORITY)
                    .defer_async()
                )
            options = self._worker_options() | {"concurrency": 1, "listen_notify": False}
            await self.papp.run_worker_async(
                queues=[queue], wait=False, name="scrm-worker-once", **options
            )
            out: dict[str, str | None] = {}
            for name, job_id in ids.items():
                if job_id in self.results:
                    out[name] = self.results[job_id]
                else:  # still waiting behind the worker that holds its lock
                    await self.papp.job_manager.cancel_job_by_id_async(job_id)
                    out[name] = None
            return out
