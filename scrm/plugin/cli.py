"""What a plugin's command needs: the command context, output helpers and one-line errors.

Import this module inside your ``register_commands`` hook, not at the top of your plugin:
it loads click, and an application opened with :func:`scrm.open` should not::

    @hookimpl
    def register_commands(cli):
        import click
        from scrm.plugin.cli import CliContext, emit, table

        @cli.command("hello")
        @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
        @click.pass_obj
        def hello(obj: CliContext, as_json: bool) -> None:
            \"\"\"Say hello.\"\"\"
            ...

A command whose module is heavy (it imports the database layer, an HTTP client, a parser)
is added with :func:`add_lazy_command`: ``scrm --help`` shows its help without importing it::

    @hookimpl
    def register_commands(cli):
        from scrm.plugin.cli import add_lazy_command

        def build():
            from my_plugin.cli import hello  # imported when `scrm hello` runs

            return hello

        add_lazy_command(cli, "hello", "Say hello.", build)

A command raises :class:`CommandError` (or any error of :mod:`scrm.plugin`, such as
:class:`~scrm.plugin.NotFound`) to stop with one line and an exit status of
:class:`ExitCode`; the root group turns every other error into one line too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import click

from scrm.cli.context import (
    CliContext,
    emit,
    fit_widths,
    line_table,
    natural_widths,
    placement_options,
    require_known,
    table,
)
from scrm.cli.errors import CliError, ExitCode
from scrm.cli.lazy import LazyRootGroup

if TYPE_CHECKING:
    from scrm.core.pipeline import IngestReport
    from scrm.plugin.polling import PollReport

__all__ = [
    "CliContext",
    "CommandError",
    "ExitCode",
    "add_lazy_command",
    "emit",
    "exit_if_failed",
    "parse_since",
    "placement_options",
    "report_summary",
    "require_known",
    "show_poll_report",
    "table",
]

#: A one-line error with its exit status: ``raise CommandError("no such thing", ExitCode.ERROR)``.
CommandError = CliError


def add_lazy_command(
    cli: click.Group, name: str, help: str, build: Callable[[], click.Command]
) -> None:
    """Add the command ``name`` to ``cli``, calling ``build()`` to make it only when it runs.

    :param cli: the group ``register_commands`` received.
    :param help: the first paragraph of the command's help, shown by ``scrm --help``; keep it
        equal to the command's own (``scrm``'s tests compare the two for its plugins).
    :param build: imports the command's module and returns the command (named ``name``).
    """
    if isinstance(cli, LazyRootGroup):
        cli.add_lazy_command(name, help, build)
    else:  # a group of the plugin's own, or a test's: nothing to gain
        cli.add_command(build(), name)


def report_summary(obj: CliContext, report: IngestReport, as_json: bool) -> None:
    """Print what an ingest did (or its JSON); exit with status 3 when it rejected a record."""
    # Imported here: the ingest command's module loads the pipeline and rich's progress bars.
    from scrm.cli.ingest import report_summary as summary

    summary(obj, report, as_json)


def parse_since(value: str) -> timedelta:
    """Parse an option's window (``90d``, ``12h``, ``2w``); a bad one is a usage error."""
    # Imported here: the metrics package is heavy.
    from scrm.core.metrics import parse_since as metrics_since

    try:
        return metrics_since(value.strip().lower())  # bounded: no overflow on 10^20 days
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def show_poll_report(obj: CliContext, report: PollReport, as_json: bool = False) -> None:
    """Print a poll report: a row per stream (its result class's ``columns``), or JSON.

    A column whose values are datetimes is shown in the configured time zone, which the
    table's caption names.
    """
    if as_json:
        emit([s.as_json() for s in report.streams])
        return
    from scrm.plugin.polling import StreamResult

    columns = type(report.streams[0]).columns if report.streams else StreamResult.columns
    headers = [h for h, _ in columns]
    values = [s.row() for s in report.streams]
    timed = any(isinstance(v, datetime) for row in values for v in row)
    rows = [
        [obj.time(v) if isinstance(v, datetime) else "" if v is None else str(v) for v in row]
        for row in values
    ]
    # One line per stream, as the case board: the name and the error give way first (the
    # whole error is on the "failed" line that follows).
    flexible = [i == 0 or h == "error" for i, h in enumerate(headers)]
    numeric = {i for i in range(len(headers)) if rows and all(r[i].isdigit() for r in rows)}
    widths = fit_widths(natural_widths(headers, rows), flexible, obj.console.width)
    caption = obj.times_caption if timed else None
    obj.console.print(line_table(headers, rows, widths, right=numeric, caption=caption))


def exit_if_failed(report: PollReport, what: str = "streams") -> None:
    """Stop with exit status 1 naming each failed stream (``2 of 5 feeds failed: a: ...``)."""
    failed = report.failed
    if failed:
        raise CommandError(
            f"{len(failed)} of {len(report.streams)} {what} failed: "
            + "; ".join(f"{s.name}: {s.error}" for s in failed)
        )
