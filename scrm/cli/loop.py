"""The complaint loop on the command line: case actions, replies, outbox, SLA, playbooks, agents."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from scrm.cli.context import CliContext, emit, fit_widths, line_table, natural_widths, table
from scrm.cli.errors import ExitCode
from scrm.core import agents as agent_ops
from scrm.core.errors import InvalidInput
from scrm.core.outbox import STATUSES
from scrm.core.playbooks import PlaybookSet, load_playbooks
from scrm.core.promises import parse_duration
from scrm.core.schemas import CaseStatus
from scrm.core.services import agents as agent_service
from scrm.core.services import cases, outbox, sla

if TYPE_CHECKING:
    from scrm.core.escalation import Alerts

__all__ = ["register"]

ACTIONS = {
    "ack": CaseStatus.ACKNOWLEDGED,
    "contact": CaseStatus.CONTACTED,
    "investigate": CaseStatus.INVESTIGATING,
    "propose": CaseStatus.SOLUTION_PROPOSED,
    "resolve": CaseStatus.RESOLVED,
    "close": CaseStatus.CLOSED,
    "reopen": CaseStatus.REOPENED,
}

#: Exit status of ``scrm outbox deliver`` when a reply failed (see docs/operators.md).
DELIVERY_FAILED = ExitCode.UNDELIVERED

actor_option = click.option(
    "--actor",
    envvar="SCRM_AGENT",
    default="cli",
    show_default=True,
    help="Who is acting (agent username; env SCRM_AGENT).",
)
version_option = click.option(
    "--version",
    "expected_version",
    type=int,
    help="Refuse if the case changed since this version (optimistic concurrency).",
)


def _action(name: str, status: CaseStatus) -> click.Command:
    @click.command(name, help=f"Move case CASE_ID to {status.value}.")
    @click.argument("case_id", type=int)
    @click.option("--note", help="Why, for the timeline.")
    @actor_option
    @version_option
    @click.pass_obj
    def command(
        obj: CliContext, case_id: int, note: str | None, actor: str, expected_version: int | None
    ) -> None:
        info = cases.transition(
            obj.app(), case_id, status, actor=actor, note=note, expected_version=expected_version
        )
        click.echo(f"case {info.id} is {info.status.value}")

    return command


@click.command("assign")
@click.argument("case_id", type=int)
@click.argument("agent")
@actor_option
@version_option
@click.pass_obj
def assign(
    obj: CliContext, case_id: int, agent: str, actor: str, expected_version: int | None
) -> None:
    """Assign case CASE_ID to AGENT."""
    cases.assign(obj.app(), case_id, agent, actor=actor, expected_version=expected_version)
    click.echo(f"case {case_id} assigned to {agent}")


@click.command("promise")
@click.argument("case_id", type=int)
@click.option("--due", required=True, help="When, from now: 4h, 30m, 2d or ISO 8601 (PT4H).")
@click.option(
    "--kind",
    type=click.Choice(["callback", "contact_request", "investigating"]),
    default="callback",
    show_default=True,
    help="What is promised: a call back, the customer's details, or news of the investigation.",
)
@click.option("--note", help="What was promised, in words (shown on the case).")
@actor_option
@click.pass_obj
def promise(
    obj: CliContext, case_id: int, due: str, kind: str, note: str | None, actor: str
) -> None:
    """Record a promise made to the customer; missing it is an SLA breach."""
    try:
        delta = parse_duration(due)
    except (ValueError, OverflowError) as exc:
        raise click.BadParameter(str(exc), param_hint="--due") from None
    try:
        fu = cases.promise(obj.app(), case_id, delta, actor=actor, kind=kind, note=note)
    except InvalidInput as exc:
        raise click.BadParameter(str(exc), param_hint=f"--{exc.field or 'due'}") from None
    click.echo(f"case {case_id}: {kind} promised, due {obj.time(fu.due_at, offset=True)}")


@click.command("rate")
@click.argument("case_id", type=int)
@click.argument("score", type=int)
@actor_option
@click.pass_obj
def rate(obj: CliContext, case_id: int, score: int, actor: str) -> None:
    """Record the customer's satisfaction rating (given by phone, say)."""
    try:
        info = cases.rate(obj.app(), case_id, score, actor=actor)
    except InvalidInput as exc:
        raise click.BadParameter(str(exc), param_hint="SCORE") from None
    click.echo(f"case {case_id} rated {score}; it is {info.status.value}")


@click.command("merge")
@click.argument("source", type=int)
@click.argument("target", type=int)
@actor_option
@click.pass_obj
def merge_cases(obj: CliContext, source: int, target: int, actor: str) -> None:
    """Merge case SOURCE into TARGET (messages and promises move; SOURCE closes)."""
    cases.merge(obj.app(), source, target, actor=actor)
    click.echo(f"case {source} merged into case {target}")


@click.command("move")
@click.argument("interaction_id", type=int)
@click.option("--to", "to_case", type=int, default=None,
              help="The case to move the message to; without it, the message is split out "
              "into a case of its own.")  # fmt: skip
@actor_option
@click.pass_obj
def move_message(obj: CliContext, interaction_id: int, to_case: int | None, actor: str) -> None:
    """Move message INTERACTION_ID to another case, or split it out into a new one."""
    info = cases.move_message(obj.app(), interaction_id, to_case, actor=actor)
    click.echo(f"interaction {interaction_id} is on case {info.id}")


@click.command("link")
@click.argument("case_ids", type=int, nargs=-1, required=True)
@click.option("--incident", required=True, help="Incident name (created if new).")
@actor_option
@click.pass_obj
def link(obj: CliContext, case_ids: tuple[int, ...], incident: str, actor: str) -> None:
    """Link cases into an incident so that they can be answered together."""
    cases.link(obj.app(), list(case_ids), incident, actor=actor)
    click.echo(f"linked {len(case_ids)} cases to incident {incident!r}")


@click.command("reply")
@click.argument("case_id", type=int, required=False)
@click.option(
    "--template", help="Playbook template: acknowledge, contact, investigating, solution, resolved."
)
@click.option("--text", help="Free text instead of a template.")
@click.option(
    "--public/--private", "public", default=None, help="Default: as the customer's last message."
)
@click.option("--incident", help="Answer every open case of this incident instead of one case.")
@click.option(
    "--idempotency-key", help="Queue this reply at most once, however often the command runs."
)
@actor_option
@version_option
@click.pass_obj
def reply(
    obj: CliContext,
    case_id: int | None,
    template: str | None,
    text: str | None,
    public: bool | None,
    incident: str | None,
    idempotency_key: str | None,
    actor: str,
    expected_version: int | None,
) -> None:
    """Queue a reply on CASE_ID through the outbox (delivered by `scrm outbox deliver`)."""
    if bool(template) == bool(text):
        raise click.UsageError("give exactly one of --template or --text")
    if incident:
        rows = outbox.reply_incident(
            obj.app(), incident, actor=actor, text=text, template=template, public=public
        )
        click.echo(f"queued {len(rows)} replies for incident {incident!r}")
        return
    if case_id is None:
        raise click.UsageError("name a case or --incident")
    row = outbox.reply(
        obj.app(),
        case_id,
        actor=actor,
        text=text,
        template=template,
        public=public,
        idempotency_key=idempotency_key,
        expected_version=expected_version,
    )
    where = "publicly" if row.public else "privately"
    click.echo(f"queued reply {row.id} on case {case_id} ({row.channel}, {where}): {row.text}")


@click.command("answered")
@click.argument("case_id", type=int)
@click.option("--text", required=True, help="The answer as it was given there.")
@click.option("--url", help="Where it was given; default: the page the case names.")
@click.option("--at", "at", help="When it was given (ISO 8601 with an offset); default now.")
@actor_option
@click.pass_obj
def answered(
    obj: CliContext, case_id: int, text: str, url: str | None, at: str | None, actor: str
) -> None:
    """Record an answer given outside scrm (on a blog post or news page the case names).

    `scrm reply` is refused for such a case: answer on the page, then record it here; it counts
    as the brand's public answer on the case (first response, acknowledgment).
    """
    when = None
    if at:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            raise click.BadParameter(f"{at!r} is not an ISO 8601 time", param_hint="--at") from None
        if when.tzinfo is None:
            raise click.BadParameter("give a time zone offset, e.g. +03:00", param_hint="--at")
    report = outbox.record_answer(obj.app(), case_id, actor=actor, text=text, url=url, at=when)
    state = "recorded" if report.stored else "already recorded"
    click.echo(f"answer on case {case_id} {state}")


@click.group("outbox")
def outbox_group() -> None:
    """Replies waiting for delivery, delivered, or failed."""


@outbox_group.command("list")
@click.option("--failed", is_flag=True, help="Only failed replies.")
@click.option("--status", type=click.Choice(list(STATUSES)), help="Only replies in this state.")
@click.option("--limit", type=int, default=50, show_default=True, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def outbox_list(
    obj: CliContext, failed: bool, status: str | None, limit: int, as_json: bool
) -> None:
    """List outbox messages, newest first."""
    replies = obj.app().replies(status="failed" if failed else status, limit=limit)
    rows: list[dict[str, Any]] = [
        {
            "id": r.id,
            "case_id": r.case_id,
            "channel": r.channel,
            "account": r.account,
            "public": r.public,
            "status": r.status,
            "attempts": r.attempts,
            "template": r.template,
            "playbook_version": r.playbook_version,
            "created_at": r.created_at.isoformat(),
            "sent_at": r.sent_at.isoformat() if r.sent_at else None,
            "external_id": r.external_id,
            "last_error": r.last_error,
            "text": r.text,
        }
        for r in replies
    ]
    if as_json:
        emit(rows)
        return
    obj.console.print(
        table(
            "outbox",
            ["id", "case", "channel", "status", "tries", "template", "error", "text"],
            [
                (
                    r["id"],
                    r["case_id"],
                    r["channel"],
                    r["status"],
                    r["attempts"],
                    r["template"],
                    str(r["last_error"] or "")[:60],
                    str(r["text"])[:60],
                )
                for r in rows
            ],
        )
    )


@outbox_group.command("deliver")
@click.option("--watch", is_flag=True, help="Keep delivering every --interval seconds.")
@click.option(
    "--interval",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds between runs with --watch.",
)
@click.pass_obj
def outbox_deliver(obj: CliContext, watch: bool, interval: float) -> None:
    """Deliver due replies through their channels (retries with backoff, never twice).

    Exits 4 when a delivery failed (for good, or to be retried later); each failure is listed
    on stderr and shown on its case.
    """
    app = obj.app()
    while True:
        r = outbox.deliver(app)
        click.echo(
            f"sent {r.sent}, retrying {r.retried}, failed {r.failed}, reconciled {r.reconciled}"
        )
        for e in r.errors:
            click.echo(f"  {e}", err=True)
        if not watch:
            if r.failed or r.retried:
                raise SystemExit(DELIVERY_FAILED)
            return
        time.sleep(interval)


@outbox_group.command("retry")
@click.argument("outbox_id", type=int)
@actor_option
@click.pass_obj
def outbox_retry(obj: CliContext, outbox_id: int, actor: str) -> None:
    """Queue a failed reply again."""
    outbox.retry(obj.app(), outbox_id, actor=actor)
    click.echo(f"outbox message {outbox_id} queued again")


@click.group("sla")
def sla_group() -> None:
    """Deadlines: breached and soon-to-breach cases; escalation."""


#: Breached cases the summary shows (the most overdue); --verbose shows up to BREACHED_MAX.
WORST = 5
BREACHED_MAX = 200
_KINDS = {"warning": "warnings", "breach": "breaches", "escalation": "escalations"}


def _late(by: Any) -> str:
    """``3d 04:05`` (days, hours and minutes), short enough for one table line."""
    minutes = int(by.total_seconds()) // 60
    days, rest = divmod(minutes, 24 * 60)
    return (
        f"{days}d {rest // 60:02d}:{rest % 60:02d}" if days else f"{rest // 60:02d}:{rest % 60:02d}"
    )


#: The columns of the breached cases; the text ones are cut (widest first) to fit the terminal.
_BREACHED = ["case", "status", "priority", "dept", "assignee", "due", "late by"]
_BREACHED_TEXT = [False, True, True, True, True, False, False]


def _breached_table(obj: CliContext, title: str, cases: list[Any], now: datetime) -> Any:
    """One line per case, as wide as the terminal; the due times in the configured zone."""

    rows = [
        [
            str(c.id),
            c.status,
            c.priority,
            c.department or "",
            c.assignee or "",
            obj.time(c.next_due),
            _late(now - c.next_due) if c.next_due else "",
        ]
        for c in cases
    ]
    widths = fit_widths(natural_widths(_BREACHED, rows), _BREACHED_TEXT, obj.console.width)
    return line_table(
        _BREACHED, rows, widths, right={0, 6}, title=title, caption=obj.times_caption
    )


def _summary(obj: CliContext, alerts: Alerts, now: datetime) -> None:
    """Counts per clock and kind, then the most overdue cases: a screenful, however many."""
    from scrm.core import escalation

    app = obj.app()
    counts = alerts.counts()
    fired = ", ".join(
        f"{sum(n for (_, k), n in counts.items() if k == kind)} {plural}"
        for kind, plural in _KINDS.items()
    )
    obj.console.print(
        f"fired {fired}" + (" (--verbose lists each)" if alerts else ""), highlight=False
    )
    if alerts:
        clocks = sorted({c for c, _ in counts})
        obj.console.print(
            table(
                None,
                ["clock", *_KINDS.values()],
                [(c, *(counts.get((c, k), 0) for k in _KINDS)) for c in clocks],
            )
        )
    with app.session(read_only=True) as s:
        late = escalation.overdue(s, now)
    if not late["cases"]:
        click.echo("no open case is past a deadline")
        return
    per_clock = ", ".join(f"{c} {late[c]}" for c in ("first_response", "follow_up", "resolution"))
    worst = app.cases(breaching=True, limit=WORST, now=now)
    obj.console.print(
        f"{late['cases']} open cases past a deadline ({per_clock}); the most overdue:",
        highlight=False,
    )
    obj.console.print(_breached_table(obj, "breached", worst, now))


def _run_check(obj: CliContext, as_json: bool, verbose: bool = False) -> None:
    app = obj.app()
    alerts = sla.check(app)
    now = datetime.now(UTC)
    if as_json:
        breaching = app.cases(breaching=True, limit=BREACHED_MAX)
        emit({"alerts": [a.__dict__ for a in alerts], "breaching": breaching})
        return
    if not verbose:
        _summary(obj, alerts, now)
        return
    if alerts:
        click.echo(obj.times_caption)
    for a in alerts:
        obj.console.print(
            f"{a.kind}: case {a.case_id} {a.clock} (due {obj.time(a.due_at)}) "
            f"{obj.local_text(a.detail)}",
            markup=False,
            highlight=False,
        )
    breaching = app.cases(breaching=True, limit=BREACHED_MAX, now=now)
    obj.console.print(_breached_table(obj, "breached", breaching, now))


verbose_option = click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help=f"List every alert that fired and up to {BREACHED_MAX} breached cases, not a summary.",
)


@sla_group.command("check")
@click.option("--json", "as_json", is_flag=True, help="Every alert and breached case as JSON.")
@verbose_option
@click.pass_obj
def sla_check(obj: CliContext, as_json: bool, verbose: bool) -> None:
    """Fire due warnings, breaches and escalations (each once); summarise them and breached cases."""
    _run_check(obj, as_json, verbose)


@sla_group.command("watch")
@click.option(
    "--interval", type=float, default=60.0, show_default=True, help="Seconds between checks."
)
@verbose_option
@click.pass_obj
def sla_watch(obj: CliContext, interval: float, verbose: bool) -> None:
    """Run `scrm sla check` every --interval seconds."""
    while True:
        _run_check(obj, False, verbose)
        time.sleep(interval)


@click.group("playbook")
def playbook_group() -> None:
    """The written complaint guide: templates and steps per category."""


def _books(obj: CliContext, folder: str | None) -> PlaybookSet:
    """The playbooks in ``folder``, else those of ``--brand`` (``[brands.<key>] playbooks``),
    else the configured ones."""
    config = obj.config.for_brand(obj.brand) if obj.brand else obj.config
    return load_playbooks(folder or config.cases.playbooks)


@playbook_group.command("list")
@click.option(
    "--folder",
    type=click.Path(file_okay=False),
    help="Playbook folder (default: the configured one).",
)
@click.pass_obj
def playbook_list(obj: CliContext, folder: str | None) -> None:
    """List playbooks."""
    books = _books(obj, folder)
    obj.console.print(
        table(
            f"playbooks in {books.source}",
            ["category", "version", "department", "priority", "templates"],
            [
                (b.category, b.version, b.department, b.priority, ", ".join(sorted(b.templates)))
                for b in books
            ],
        )
    )


@playbook_group.command("show")
@click.argument("category")
@click.option(
    "--folder",
    type=click.Path(file_okay=False),
    help="Playbook folder (default: the configured one).",
)
@click.pass_obj
def playbook_show(obj: CliContext, category: str, folder: str | None) -> None:
    """Show a category's playbook: steps and templates."""
    book = _books(obj, folder).playbooks.get(category)
    if book is None:
        raise click.ClickException(f"no playbook for category {category!r}")
    click.echo(json.dumps(book.model_dump(mode="json"), ensure_ascii=False, indent=2))


@playbook_group.command("validate")
@click.argument("folder", type=click.Path(file_okay=False), required=False)
@click.pass_obj
def playbook_validate(obj: CliContext, folder: str | None) -> None:
    """Validate every playbook in FOLDER (default: the configured set)."""
    books = _books(obj, folder)
    click.echo(f"{len(books)} playbooks in {books.source} are valid")


@click.group("agents")
def agents_group() -> None:
    """People who work cases."""


@agents_group.command("add")
@click.argument("username")
@click.option("--name", "display_name", help="Full name.")
@click.option("--email", help="E-mail address (notifications).")
@click.option("--department", help="Department code.")
@click.option(
    "--role",
    type=click.Choice(agent_ops.ROLES),
    default="agent",
    show_default=True,
    help="What the agent may do.",
)
@click.option(
    "--status",
    type=click.Choice(agent_ops.STATUSES),
    default="active",
    show_default=True,
    help="Only active agents get new cases.",
)
@click.option("--capacity", type=int, default=10, show_default=True, help="Open cases at most.")
@click.option("--languages", help="Comma-separated languages the agent answers in.")
@click.option("--categories", help="Comma-separated categories the agent handles.")
@click.option(
    "--pools", help="Comma-separated routing pools the agent works (rules may route to a pool)."
)
@click.option(
    "--timezone",
    help="IANA time zone the console shows the agent's times in (default: the configured one).",
)
@actor_option
@click.pass_obj
def agents_add(
    obj: CliContext,
    username: str,
    display_name: str | None,
    email: str | None,
    department: str | None,
    role: str,
    status: str,
    capacity: int,
    languages: str | None,
    categories: str | None,
    pools: str | None,
    timezone: str | None,
    actor: str,
) -> None:
    """Add or update an agent."""
    skills = {
        k: [x.strip() for x in v.split(",") if x.strip()]
        for k, v in (("languages", languages), ("categories", categories), ("pools", pools))
        if v
    }
    data = agent_ops.AgentIn(
        username=username,
        display_name=display_name,
        email=email,
        department=department,
        role=role,
        status=status,
        capacity=capacity,
        skills=skills,
        timezone=timezone,
    )
    done = agent_service.save(obj.app(), data, actor=actor)
    taken = done.assigned
    click.echo(f"agent {username} saved" + (f"; {taken} waiting cases assigned" if taken else ""))


@agents_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def agents_list(obj: CliContext, as_json: bool) -> None:
    """List agents."""
    with obj.app().session() as s:
        items = agent_ops.list_agents(s)
    if as_json:
        emit(items)
        return
    obj.console.print(
        table(
            "agents",
            ["username", "name", "department", "role", "status", "capacity", "skills"],
            [
                (
                    a.username,
                    a.display_name,
                    a.department,
                    a.role,
                    a.status,
                    a.capacity,
                    json.dumps(a.skills, ensure_ascii=False),
                )
                for a in items
            ],
        )
    )


@agents_group.command("password")
@click.argument("username")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of asking.",
)
@actor_option
@click.pass_obj
def agents_password(obj: CliContext, username: str, password_stdin: bool, actor: str) -> None:
    """Set the console password of agent USERNAME (only a salted hash is stored)."""
    from scrm.core import passwords

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    with obj.app().session() as s:
        passwords.set_agent_password(s, username, password, actor=actor)
    click.echo(f"password of agent {username} set; their console sessions signed in before end")


def register(cli: click.Group) -> None:
    case_group = cli.commands["case"]
    assert isinstance(case_group, click.Group)
    for name, status in ACTIONS.items():
        case_group.add_command(_action(name, status))
    for cmd in (assign, promise, rate, merge_cases, move_message, link, answered):
        case_group.add_command(cmd)
    for cmd in (reply, outbox_group, sla_group, playbook_group, agents_group):
        cli.add_command(cmd)
