"""``scrm worker``: run the background work (see :mod:`scrm.core.worker`)."""

from __future__ import annotations

import signal
import threading

import click

from scrm.cli.context import CliContext
from scrm.core.worker import Settings, Worker

__all__ = ["register"]


@click.command("worker")
@click.option("--once", is_flag=True, help="Run every task once and exit.")
@click.option("--only", multiple=True, help="Run only these tasks (repeatable).")
@click.option("--list", "list_tasks", is_flag=True, help="List the tasks and exit.")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="PostgreSQL: jobs this worker runs at once.",
)
@click.option(
    "--stalled-after",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="PostgreSQL: seconds without a heartbeat after which a worker is taken for dead "
    "and its jobs are run again by another.",
)
@click.pass_obj
def worker(
    obj: CliContext,
    once: bool,
    only: tuple[str, ...],
    list_tasks: bool,
    concurrency: int,
    stalled_after: float,
) -> None:
    """Deliver replies and webhooks, process received webhooks, check SLAs, assign, poll channels.

    Run one per machine or several. On PostgreSQL the tasks are jobs of procrastinate (a
    task queue in PostgreSQL): any number of workers on any number of machines share them,
    each polled source is polled by one worker at a time, and the jobs of a worker that dies
    are run again by another. On SQLite, run one worker.

    With --once, exits 1 when a task failed. A received webhook that keeps failing is not a
    failed task: it is retried with a backoff, then parked (`scrm inbox list --dead`).
    """
    app = obj.app()
    w = Worker(
        app,
        settings=Settings(
            concurrency=concurrency,
            stalled_after=stalled_after,
            heartbeat=min(10.0, stalled_after / 3),
        ),
    )
    names = {t.name for t in w.tasks}
    unknown = set(only) - names
    if unknown:
        raise click.UsageError(
            f"unknown tasks {sorted(unknown)}; tasks: {', '.join(sorted(names))}"
        )
    if list_tasks:
        for t in w.tasks:
            click.echo(
                f"{t.name}: every {t.interval:g} s{' (one worker at a time)' if t.exclusive else ''}"
            )
        return
    selected = set(only) or None
    if once:
        failed = []
        for name, summary in w.run_once(only=selected).items():
            click.echo(
                f"{name}: {summary if summary is not None else 'skipped: another worker is running it'}"
            )
            if summary is not None and summary.startswith("failed:"):
                failed.append(name)
        if failed:
            raise click.ClickException(f"tasks failed: {', '.join(failed)}")
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    engine = "procrastinate on PostgreSQL" if w.queued else "in this process (SQLite)"
    click.echo(f"worker running {', '.join(sorted(selected or names))} ({engine}); Ctrl-C to stop")
    w.run_forever(
        stop, only=selected, report=lambda name, summary: click.echo(f"{name}: {summary}")
    )


def register(cli: click.Group) -> None:
    cli.add_command(worker)
