"""``scrm cases list`` and ``scrm case show``: the case board and a case's timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from rich.console import Console

from scrm.cli.board import MARKERS, build_board, markers, replies
from scrm.cli.context import CliContext, department_codes, emit, require_known, table
from scrm.core.outbox import UNDELIVERED
from scrm.core.queries import CASE_SORTS, CaseDetail
from scrm.core.schemas import CaseStatus

__all__ = ["register"]

#: The board counts the open cases whose next deadline comes within this.
DUE_SOON = timedelta(hours=4)


@click.group("cases")
def cases_group() -> None:
    """The case board."""


@cases_group.command("list")
@click.option(
    "--status",
    type=click.Choice(["open", *(s.value for s in CaseStatus)]),
    help="A status, or 'open' for every status that still needs work.",
)
@click.option("--department", help="Department code (support, sales, marketing, rnd...).")
@click.option("--channel", help="Channel the case was opened on (twitter, phone...).")
@click.option("--customer", type=int, help="Customer id.")
@click.option("--assignee", help="Agent username.")
@click.option(
    "--breaching", is_flag=True, help="Only open cases past a deadline, most overdue first."
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many."
)
@click.option(
    "--after",
    type=int,
    help="Show cases with an id above this (paging; sorts by id unless --sort says otherwise).",
)
@click.option(
    "--sort",
    type=click.Choice(CASE_SORTS),
    default=None,
    help="deadline (default: cases past a deadline first, then the next one due), priority "
    "(urgent first, then deadline), opened (newest first) or id.",
)
@click.option("--wide", is_flag=True, help="Every column (kind, category, times...), nothing cut.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_(
    obj: CliContext,
    status: str | None,
    department: str | None,
    channel: str | None,
    customer: int | None,
    assignee: str | None,
    breaching: bool,
    limit: int,
    after: int | None,
    sort: str | None,
    wide: bool,
    as_json: bool,
) -> None:
    """List cases: the board, one line per case, those past a deadline first.

    Markers after the case number are explained under the board; the deadline is shown
    relative to now (``in 2h``, ``3d late``), and with --wide also as a time in the
    configured time zone.
    """
    app = obj.app()
    if department is not None:  # one query less when no department is asked for
        require_known(department, "--department", "department", department_codes(app))
    require_known(channel, "--channel", "channel", app.hooks.channels)
    now = datetime.now(UTC)
    filters = {
        "status": status,
        "department": department,
        "channel": channel,
        "customer": customer,
        "assignee": assignee,
    }
    order = sort or ("id" if after is not None else "deadline")
    items = app.cases(**filters, breaching=breaching, limit=limit, after=after, now=now, sort=order)
    if as_json:
        emit(items)
        return
    if not items:
        obj.console.print("no cases match")
        return
    board, width = build_board(items, console=obj.console, time=obj.time, now=now, wide=wide)
    out = obj.console
    if wide and width > out.width:
        # Wider than the terminal on purpose: the terminal wraps it, nothing is cut.
        out = Console(
            file=out.file, width=width, force_terminal=out.is_terminal, no_color=out.no_color
        )
    out.print(board)
    shown = "".join({m for c in items for m in markers(c)})
    legend = "  ".join(f"{m} {text}" for m, text in MARKERS.items() if m in shown)
    if legend:
        obj.console.print(legend, highlight=False)
    counts = app.count_cases(now=now, soon=DUE_SOON, **filters)
    order = "deadline" if breaching else order
    obj.console.print(
        f"{len(items)} of {counts.total} cases by {order}: {counts.breaching} past a deadline, "
        f"{counts.due_soon} due within {DUE_SOON.seconds // 3600}h"
        + (f"; {obj.times_caption}" if wide else ""),
        highlight=False,
        style="dim",
    )


@click.group("case")
def case_group() -> None:
    """Work one case."""


@case_group.command("show")
@click.argument("case_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show(obj: CliContext, case_id: int, as_json: bool) -> None:
    """Show a case and its timeline of messages and events."""
    c = obj.app().case(case_id)
    if as_json:
        emit(c)
        return
    render_case(obj, c)


def render_case(obj: CliContext, c: CaseDetail) -> None:
    out = obj.console
    out.print(
        f"[bold]case {c.id}[/bold] {c.status} · {c.priority} · {c.department or 'no department'} · "
        f"{c.kind}/{c.category} · customer {c.customer_name or ''} ({c.customer_id})",
        highlight=False,
    )
    out.print(
        f"opened {obj.time(c.opened_at)} on {c.channel}; first response {obj.time(c.first_response_at) or '-'}; "
        f"next due {obj.time(c.next_due) or '-'}{' (BREACHED)' if c.breaching else ''}; reopened {c.reopen_count}x"
        f"; {obj.times_caption}",
        highlight=False,
    )
    elsewhere = [i.answer_url for i in c.interactions if i.answer_url and i.direction == "inbound"]
    if elsewhere:
        out.print(
            f"answer on the page itself (scrm cannot post there): {elsewhere[-1]}; then "
            f"record it with `scrm case answered {c.id} --text ...`",
            highlight=False,
            soft_wrap=True,
        )
    if c.replies_failed or c.replies_pending:
        out.print(
            f"replies not delivered: {replies(c)}"
            + (f"; last error: {c.reply_error}" if c.reply_error else ""),
            highlight=False,
        )
    timeline = [
        (
            i.created_at,
            "message",
            f"{i.channel}{f' ({i.account})' if i.account else ''} {i.direction}"
            + (" public" if i.public else ""),
            f"{i.text[:200]}" + (f"  [{i.kind}/{i.sentiment}]" if i.kind else ""),
        )
        for i in c.interactions
    ]
    timeline += [
        (
            e.at,
            "event",
            e.actor,
            # Notes written at the time hold ISO instants ("due 2024-10-21T06:41:53+00:00"):
            # shown in the zone of the timeline's other times.
            obj.local_text(
                f"{e.action}: {e.from_value or ''} -> {e.to_value or ''} {e.note or ''}".strip()
            ),
        )
        for e in c.events
    ]
    timeline += [
        (
            r.created_at,
            "reply",
            f"{r.channel} {r.status.upper() if r.status == 'failed' else r.status}",
            f"outbox {r.id}, {r.attempts} attempts: {r.text[:120]}"
            + (f"  [{obj.local_text(r.last_error[:200])}]" if r.last_error else ""),
        )
        for r in c.replies
        if r.status in UNDELIVERED
    ]
    timeline.sort(key=lambda r: r[0])
    out.print(
        table(
            "timeline",
            ["at", "what", "who/where", "detail"],
            [(obj.time(a), b, w, d) for a, b, w, d in timeline],
            caption=obj.times_caption,
        )
    )


def register(cli: click.Group) -> None:
    cli.add_command(cases_group)
    cli.add_command(case_group)
