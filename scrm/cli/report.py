"""``scrm report``: service metrics and channel parity as tables, JSON, CSV or one HTML page."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.table import Table

from scrm.cli.context import CliContext, emit
from scrm.core.metrics import DIMENSIONS, generate_report, parse_period
from scrm.core.metrics.html import render_html
from scrm.core.metrics.model import Report
from scrm.core.metrics.tables import COLUMNS, display, flat, human_duration, percent

__all__ = ["register"]

_SHOWN = [
    "key",
    "volume_in",
    "volume_out",
    "cases_opened",
    "first_response_median",
    "first_response_p90",
    "contact_wait_median",
    "contact_wait_p90",
    "resolution_median",
    "resolution_p90",
    "sla_first_response_compliance",
    "sla_follow_up_compliance",
    "sla_resolution_compliance",
    "backlog",
    "backlog_median_age",
    "follow_ups_kept_rate",
    "reopen_rate",
    "csat_average",
    "csat_response_rate",
    "public_answer_share",
    "sentiment_average",
]


@click.command("report")
@click.option("--since", help="Period length before --to (or now): 30d, 12h, 2w. Default 30d.")
@click.option("--from", "start", help="Period start: a date (local midnight) or an ISO time.")
@click.option("--to", "end", help="Period end: a date (included) or an ISO time. Default: now.")
@click.option(
    "--by",
    type=click.Choice(list(DIMENSIONS)),
    default="channel",
    show_default=True,
    help="Slice the metrics by this.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print one CSV row per slice (and the total).")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write a self-contained HTML report with charts to this file.",
)
@click.pass_obj
def report(
    obj: CliContext,
    since: str | None,
    start: str | None,
    end: str | None,
    by: str,
    as_json: bool,
    as_csv: bool,
    html_file: Path | None,
) -> None:
    """Service metrics for a period, per slice, with social vs traditional channel parity.

    Durations are in seconds in --json and --csv (medians and 90th percentiles), rates are
    fractions; a metric with nothing to measure is empty (null).  A parity gap beyond
    [report] parity_tolerance_percent fires the parity_gap hook.
    """
    app = obj.app()
    try:
        begin, stop = parse_period(
            since=since,
            start=start,
            end=end,
            timezone=app.config.timezone,
            now=datetime.now(UTC),
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    rep = generate_report(app, start=begin, end=stop, by=by)
    if html_file is not None:
        html_file.write_text(render_html(rep), encoding="utf-8")
        click.echo(f"wrote {html_file}", err=as_json or as_csv)
    if as_json:
        emit(rep)
    elif as_csv:
        _csv(rep)
    elif html_file is None:
        _tables(obj, rep)


def _csv(rep: Report) -> None:
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow([rep.by if n == "key" else n for n, _ in COLUMNS])
    for g in [*rep.groups, rep.total]:
        row = flat(g)
        out.writerow(["" if row[n] is None else row[n] for n, _ in COLUMNS])


def _tables(obj: CliContext, rep: Report) -> None:
    headers = dict(COLUMNS)
    groups = [*rep.groups, rep.total]
    rows = [flat(g) for g in groups]
    t = Table(
        title=f"{obj.time(rep.start)} - {obj.time(rep.end)}, by {rep.by}; {obj.times_caption}",
        header_style="bold",
    )
    t.add_column("metric")
    for g in groups:
        t.add_column("TOTAL" if g is rep.total else str(g.key or "(none)"), justify="right")
    for n in _SHOWN[1:]:
        t.add_row(headers[n], *(display(n, row[n]) for row in rows))
    obj.console.print(t)

    p = Table(
        title=f"channel parity: traditional vs social (tolerance ±{rep.tolerance_percent:g})",
        header_style="bold",
    )
    chans = sorted(rep.channel_sides)
    p.add_column("metric")
    for c in chans:
        p.add_column(f"{c}\n({rep.channel_sides[c]})", justify="right")
    for col in ("social", "traditional", "gap"):
        p.add_column(col, justify="right")

    def fmt(unit: str, v: float | None) -> str:
        if v is None:
            return "-"
        if unit == "seconds":
            return human_duration(v)
        return percent(v) if unit == "ratio" else f"{v:.2f}"

    for row in rep.parity:
        gap = "-" if row.gap is None else f"{row.gap:+.0f}{' pts' if row.unit == 'ratio' else '%'}"
        style = None
        if row.flagged:
            style = "red" if (row.gap or 0) > 0 else "green"
        p.add_row(
            row.label,
            *(fmt(row.unit, row.channels.get(c)) for c in chans),
            fmt(row.unit, row.social),
            fmt(row.unit, row.traditional),
            gap,
            style=style,
        )
    obj.console.print(p)
    obj.console.print(
        "Durations are elapsed time (median, p90); red: traditional channels served worse "
        "beyond the tolerance, green: better.",
        highlight=False,
    )


def register(cli: click.Group) -> None:
    cli.add_command(report)
