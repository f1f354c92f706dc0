"""``scrm ingest``: read a file or stdin of JSON lines in batches, with a progress bar."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from typing import IO

import click
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from scrm.cli.context import CliContext, emit, placement_options, table
from scrm.core.pipeline import IngestReport
from scrm.core.sources import FORMATS

__all__ = ["EXIT_REJECTED", "register", "report_summary"]

#: Exit status when the run finished but some records were rejected (kept in `scrm rejects`).
EXIT_REJECTED = 3


def _lines(stream: IO[bytes], progress: Progress | None, task: TaskID | None) -> Iterator[bytes]:
    for line in stream:
        if progress is not None and task is not None:
            progress.advance(task, len(line))
        yield line


def report_summary(obj: CliContext, report: IngestReport, as_json: bool) -> None:
    if as_json:
        emit({**report.as_dict(), "rejects": report.rejects})
    else:
        s = report.as_dict()
        obj.console.print(
            f"stored {s['stored']}, duplicates {s['duplicates']}, updated {s['updated']}, "
            f"rejected {s['rejected']}; cases opened {s['cases_opened']}, updated {s['cases_updated']}"
        )
        if report.rejects:
            rows = [(r.id, r.position, r.field or "", r.reason) for r in report.rejects[:20]]
            obj.err.print(
                table(
                    "rejected (see `scrm rejects list`)",
                    ["reject", "line", "field", "reason"],
                    rows,
                )
            )
    if report.rejected:
        sys.exit(EXIT_REJECTED)


@click.command()
@click.argument("file", type=click.Path(allow_dash=True, dir_okay=False, exists=False))
@click.option(
    "--channel",
    help="Channel whose native payloads the file holds (twitter, facebook, email, phone...).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="native (the channel's own payloads, default with --channel) or interactions (scrm's interchange format).",
)
@placement_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
def ingest(
    obj: CliContext,
    file: str,
    channel: str | None,
    fmt: str | None,
    as_of: str | None,
    newest: str | None,
    as_json: bool,
) -> None:
    """Ingest FILE (or - for stdin): one JSON object per line, any size, in bounded memory.

    Duplicates are stored once.  A bad line is rejected with its line number, field and
    reason; the rest is still ingested; rejects are kept (`scrm rejects list`) and the exit
    status is 3 when anything was rejected.
    """
    fmt = fmt or ("native" if channel else "interactions")
    placement = obj.placement(as_of, newest)
    app = obj.app()
    if fmt == "native" and not channel:
        raise click.UsageError("--format native needs --channel")
    if channel:
        app.channel(channel)  # fail early, naming the installed channels
    source = "stdin" if file == "-" else file
    if file == "-":
        stream: IO[bytes] = sys.stdin.buffer
        total = None
    else:
        try:
            stream = open(file, "rb")  # noqa: SIM115  (closed below)
        except OSError as exc:
            raise click.ClickException(f"cannot read {file}: {exc.strerror}") from None
        total = _size(stream)
    show = obj.err.is_terminal and not as_json
    try:
        if show:
            with Progress(
                TextColumn("[bold]ingest"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=obj.err,
                transient=True,
            ) as progress:
                task = progress.add_task("ingest", total=total)
                report = app.ingest_lines(
                    _lines(stream, progress, task),
                    source=source,
                    fmt=fmt,
                    channel=channel,
                    placement=placement,
                )
        else:
            report = app.ingest_lines(
                _lines(stream, None, None),
                source=source,
                fmt=fmt,
                channel=channel,
                placement=placement,
            )
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    report_summary(obj, report, as_json)


def _size(stream: IO[bytes]) -> int | None:
    try:
        return stream.seek(0, io.SEEK_END) or None
    finally:
        stream.seek(0)


def register(cli: click.Group) -> None:
    cli.add_command(ingest)
