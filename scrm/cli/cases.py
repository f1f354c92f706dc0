"""``scrm cases list`` and ``scrm case show``: the case board and a case's timeline."""

from __future__ import annotations

import click

from scrm.cli.context import CliContext, department_codes, emit, require_known, short_time, table
from scrm.core.outbox import UNDELIVERED
from scrm.core.queries import CaseDetail, CaseOut
from scrm.core.schemas import CaseStatus

__all__ = ["register"]


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
@click.option("--after", type=int, help="Show cases with an id above this (paging).")
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
    as_json: bool,
) -> None:
    """List cases."""
    app = obj.app()
    require_known(department, "--department", "department", department_codes(app))
    require_known(channel, "--channel", "channel", app.hooks.channels)
    items = app.cases(
        status=status,
        department=department,
        channel=channel,
        customer=customer,
        assignee=assignee,
        breaching=breaching,
        limit=limit,
        after=after,
    )
    if as_json:
        emit(items)
        return
    rows = [
        (
            c.id,
            c.status,
            c.priority,
            c.department or "-",
            c.kind,
            c.category,
            c.channel,
            c.customer_name or c.customer_id,
            short_time(c.opened_at),
            short_time(c.next_due) + (" !" if c.breaching else ""),
            _replies(c),
            (c.subject or "")[:50],
        )
        for c in items
    ]
    obj.console.print(
        table(
            "cases",
            [
                "case",
                "status",
                "priority",
                "dept",
                "kind",
                "category",
                "channel",
                "customer",
                "opened",
                "next due",
                "replies",
                "subject",
            ],
            rows,
        )
    )


def _replies(c: CaseOut) -> str:
    """Undelivered replies of a case for the board: ``1 FAILED, 2 pending``."""
    parts = []
    if c.replies_failed:
        parts.append(f"{c.replies_failed} FAILED")
    if c.replies_pending:
        parts.append(f"{c.replies_pending} pending")
    return ", ".join(parts) or "-"


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
        f"opened {short_time(c.opened_at)} on {c.channel}; first response {short_time(c.first_response_at) or '-'}; "
        f"next due {short_time(c.next_due) or '-'}{' (BREACHED)' if c.breaching else ''}; reopened {c.reopen_count}x",
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
            f"replies not delivered: {_replies(c)}"
            + (f"; last error: {c.reply_error}" if c.reply_error else ""),
            highlight=False,
        )
    timeline = [
        (
            i.created_at,
            "message",
            f"{i.channel} {i.direction}{' public' if i.public else ''}",
            f"{i.text[:200]}" + (f"  [{i.kind}/{i.sentiment}]" if i.kind else ""),
        )
        for i in c.interactions
    ]
    timeline += [
        (
            e.at,
            "event",
            e.actor,
            f"{e.action}: {e.from_value or ''} -> {e.to_value or ''} {e.note or ''}".strip(),
        )
        for e in c.events
    ]
    timeline += [
        (
            r.created_at,
            "reply",
            f"{r.channel} {r.status.upper() if r.status == 'failed' else r.status}",
            f"outbox {r.id}, {r.attempts} attempts: {r.text[:120]}"
            + (f"  [{r.last_error[:200]}]" if r.last_error else ""),
        )
        for r in c.replies
        if r.status in UNDELIVERED
    ]
    timeline.sort(key=lambda r: r[0])
    out.print(
        table(
            "timeline",
            ["at", "what", "who/where", "detail"],
            [(short_time(a), b, w, d) for a, b, w, d in timeline],
        )
    )


def register(cli: click.Group) -> None:
    cli.add_command(cases_group)
    cli.add_command(case_group)
