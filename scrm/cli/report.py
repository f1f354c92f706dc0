"""``scrm report``: service metrics and channel parity as tables, JSON, CSV or one HTML page."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.cells import cell_len
from rich.console import Console

from scrm.cli.context import GAP, CliContext, clip, emit, line_table
from scrm.core.metrics import generate_report, parse_period, report_dimensions
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
    default="channel",
    show_default=True,
    help="Slice the metrics by this: channel, department, category, priority, agent, "
    "language, kind, brand, or a plugin's slice (campaign, from the marketing module).",
)
@click.option(
    "--brand",
    metavar="KEY",
    help="Only this brand's figures, in its time zone (default: every brand the caller sees; "
    "--by brand slices them per brand).",
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
    brand: str | None,
    as_json: bool,
    as_csv: bool,
    html_file: Path | None,
) -> None:
    """Service metrics for a period, per slice, with social vs traditional channel parity.

    Durations are in seconds in --json and --csv (medians and 90th percentiles), rates are
    fractions; a metric with nothing to measure is empty (null).  A parity gap beyond
    [report] parity_tolerance_percent fires the parity_gap hook.
    """
    app = obj.app().for_brand(brand)
    dimensions = report_dimensions(app.pm)
    if by not in dimensions:
        raise click.BadParameter(f"choose one of {', '.join(dimensions)}", param_hint="'--by'")
    try:
        begin, stop = parse_period(
            since=since,
            start=start,
            end=end,
            timezone=app.timezone,
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
    out = obj.console
    headers = dict(COLUMNS)
    groups = [rep.total, *rep.groups]  # the total first: it stays in view when slices move on
    rows = [flat(g) for g in groups]
    out.print(
        f"{obj.time(rep.start)} - {obj.time(rep.end)}, by {rep.by}; {obj.times_caption}",
        style="bold",
        highlight=False,
    )
    _matrix(
        out,
        ["metric", *("TOTAL" if g is rep.total else str(g.key or "(none)") for g in groups)],
        [[headers[n], *(display(n, row[n]) for row in rows)] for n in _SHOWN[1:]],
    )

    def fmt(unit: str, v: float | None) -> str:
        if v is None:
            return "-"
        if unit == "seconds":
            return human_duration(v)
        return percent(v) if unit == "ratio" else f"{v:.2f}"

    chans = sorted(rep.channel_sides)
    out.print()
    out.print(
        f"channel parity: traditional vs social (tolerance ±{rep.tolerance_percent:g})",
        style="bold",
        highlight=False,
    )
    for side in ("social", "traditional"):
        names = [c for c in chans if rep.channel_sides[c] == side]
        out.print(f"{side}: {', '.join(names) or '-'}", highlight=False)
    styles: list[str | None] = []
    cells = []
    for row in rep.parity:
        gap = "-" if row.gap is None else f"{row.gap:+.0f}{' pts' if row.unit == 'ratio' else '%'}"
        styles.append(("red" if (row.gap or 0) > 0 else "green") if row.flagged else None)
        cells.append(
            [
                row.label,
                fmt(row.unit, row.social),
                fmt(row.unit, row.traditional),
                gap,
                *(fmt(row.unit, row.channels.get(c)) for c in chans),
            ]
        )
    _matrix(out, ["metric", "social", "traditional", "gap", *chans], cells, styles)
    out.print(
        "Durations are elapsed time (median, p90); red: traditional channels served worse "
        "beyond the tolerance, green: better.",
        highlight=False,
    )


#: The metric names keep at least this many cells when the terminal is narrow.
MIN_LABEL = 16
#: A slice's name longer than this is cut in its column's header.
MAX_HEADER = 12


def _label_width(labels: list[str], room: int) -> int:
    """The width the metric names get: at most ``room``, but wide enough that no two read alike
    once cut."""
    natural = max(cell_len(label) for label in labels)
    width = min(natural, max(room, MIN_LABEL))
    while width < natural and len({clip(label, width) for label in labels}) < len(set(labels)):
        width += 1
    return width


def _split(values: list[int], room: int, most: int | None = None) -> list[list[int]]:
    """The value columns (numbered from 1) in parts that fit ``room`` cells after the names."""
    parts: list[list[int]] = [[]]
    for i, w in enumerate(values, start=1):
        used = sum(values[j - 1] + GAP for j in parts[-1])
        if parts[-1] and (used + GAP + w > room or len(parts[-1]) == most):
            parts.append([])
        parts[-1].append(i)
    return parts


def _matrix(
    out: Console,
    headers: list[str],
    rows: list[list[str]],
    styles: list[str | None] | None = None,
) -> None:
    """Print metric rows (a name, then values) one line each, as wide as the terminal.

    The values stay whole; the metric names are cut at a word first, and when the value
    columns still do not fit they continue in a second table below (and a third...), each
    with the metric names again.
    """
    values = [
        max(min(cell_len(h), MAX_HEADER), *(cell_len(r[i]) for r in rows))
        for i, h in enumerate(headers)
        if i
    ]
    label = _label_width([r[0] for r in rows], out.width - sum(values) - GAP * len(values))
    parts = _split(values, out.width - label)
    if len(parts) > 1:  # as many columns in each part as can be, the names as wide as can be
        per = -(-len(values) // len(parts))
        parts = _split(values, out.width - label, per)
        widest = max(sum(values[i - 1] + GAP for i in part) for part in parts)
        label = max(label, min(max(cell_len(r[0]) for r in rows), out.width - widest))
    for n, part in enumerate(parts):
        out.print(
            line_table(
                [headers[0], *(headers[i] for i in part)],
                [[r[0], *(r[i] for i in part)] for r in rows],
                [label, *(values[i - 1] for i in part)],
                right=range(1, len(part) + 1),
                styles=styles,
            )
        )
        if n < len(parts) - 1:
            out.print()


def register(cli: click.Group) -> None:
    cli.add_command(report)
