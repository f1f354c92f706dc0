"""``scrm worker``: run the background work (see :mod:`scrm.core.worker`)."""

from __future__ import annotations

import signal
import threading

import click

from scrm.cli.context import CliContext
from scrm.core.worker import Worker

__all__ = ["register"]


@click.command("worker")
@click.option("--once", is_flag=True, help="Run every task once and exit.")
@click.option("--only", multiple=True, help="Run only these tasks (repeatable).")
@click.option("--list", "list_tasks", is_flag=True, help="List the tasks and exit.")
@click.pass_obj
def worker(obj: CliContext, once: bool, only: tuple[str, ...], list_tasks: bool) -> None:
    """Deliver replies and webhooks, process received webhooks, check SLAs, assign, poll channels.

    Run one per machine or several: on PostgreSQL they share the work safely (each row is
    taken by one worker; each polled source by one worker at a time).
    """
    w = Worker(obj.app())
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
        for name, summary in w.run_once(only=selected).items():
            click.echo(
                f"{name}: {summary if summary is not None else 'skipped: another worker is running it'}"
            )
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"worker running {', '.join(sorted(selected or names))}; Ctrl-C to stop")
    w.run_forever(
        stop, only=selected, report=lambda name, summary: click.echo(f"{name}: {summary}")
    )


def register(cli: click.Group) -> None:
    cli.add_command(worker)
