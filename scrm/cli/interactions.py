"""``scrm interactions add/list/show``."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from pydantic import ValidationError

from scrm.cli.context import CliContext, emit, require_known, table
from scrm.cli.ingest import report_summary
from scrm.core.config import plain_message
from scrm.core.schemas import Kind
from scrm.plugins.manual import MANUAL_CHANNELS

__all__ = ["register"]


@click.group("interactions")
def group() -> None:
    """Messages on every channel."""


@group.command("add")
@click.option(
    "--channel", type=click.Choice(MANUAL_CHANNELS), required=True, help="Traditional channel."
)
@click.option("--text", required=True, help="What the customer said (or the agent's summary).")
@click.option("--customer", type=int, help="Existing customer id this contact belongs to.")
@click.option("--name", help="Caller's name.")
@click.option("--phone", help="Caller's phone number.")
@click.option("--email", help="Caller's e-mail address.")
@click.option("--address", help="Postal address (letters).")
@click.option("--agent", help="Agent who took the contact.")
@click.option(
    "--direction",
    type=click.Choice(["inbound", "outbound"]),
    default="inbound",
    show_default=True,
    help="inbound: the customer contacted you; outbound: you contacted them.",
)
@click.option("--at", "at", help="When it happened (ISO 8601); default now.")
@click.option(
    "--id", "record_id", help="Your reference for it (call id, letter number); default generated."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def add(
    obj: CliContext,
    channel: str,
    text: str,
    customer: int | None,
    name: str | None,
    phone: str | None,
    email: str | None,
    address: str | None,
    agent: str | None,
    direction: str,
    at: str | None,
    record_id: str | None,
    as_json: bool,
) -> None:
    """Record a phone call, letter, fax or walk-in; it goes through the same pipeline as social messages."""
    app = obj.app()
    try:
        when = datetime.fromisoformat(at) if at else datetime.now(UTC)
    except ValueError:
        raise click.BadParameter(
            f"{at!r} is not an ISO 8601 time, e.g. 2024-10-21T10:05:00+03:00", param_hint="'--at'"
        ) from None
    if when.tzinfo is None:
        raise click.BadParameter(
            "give a time zone offset, e.g. 2024-10-21T10:05:00+03:00", param_hint="--at"
        )
    if customer is not None:
        app.customer(customer)  # fails clearly when there is no such customer
    caller = {"name": name, "phone": phone, "email": email, "address": address}
    record = {
        "record_id": record_id or f"{channel.upper()}-{when.strftime('%Y%m%d%H%M%S%f')}",
        "channel": channel,
        "received_at": when.isoformat(),
        "caller": caller,
        "direction": direction,
        "agent": agent,
        "text": text,
        "customer_id": customer,
    }
    try:  # a mistake on the command line is a usage error, not a stored reject
        list(app.channel(channel).parse(record))
    except ValidationError as exc:
        raise click.UsageError(_usage_problem(exc)) from None
    report = app.ingest_native(channel, [record], source="cli")
    report_summary(obj, report, as_json)


#: The option that sets each field of the manual channel's record.
_OPTIONS = {
    "record_id": "--id",
    "received_at": "--at",
    "text": "--text",
    "agent": "--agent",
    "customer_id": "--customer",
}


def _usage_problem(exc: ValidationError) -> str:
    """Say which option is wrong, in the command line's words."""
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        msg = plain_message(err)
        if not loc:  # the record as a whole: nobody to attach it to
            parts.append(
                "say who it was: give --phone, --email, --name with --address, or --customer ID"
            )
        elif loc[0] == "caller":
            option = f"--{loc[1]}" if len(loc) > 1 else "--name/--phone/--email/--address"
            parts.append(f"{option}: {msg}")
        else:
            parts.append(f"{_OPTIONS.get(loc[0], loc[0])}: {msg}")
    return "; ".join(parts)


@group.command("list")
@click.option("--channel", help="Only this channel (twitter, phone...).")
@click.option("--customer", type=int, help="Only this customer's (and merged records').")
@click.option("--case", type=int, help="Only the messages of this case.")
@click.option(
    "--kind", type=click.Choice([k.value for k in Kind]), help="Only messages classified so."
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many."
)
@click.option("--after", type=int, help="Show interactions with an id above this (paging).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_(
    obj: CliContext,
    channel: str | None,
    customer: int | None,
    case: int | None,
    kind: str | None,
    limit: int,
    after: int | None,
    as_json: bool,
) -> None:
    """List interactions, oldest first."""
    app = obj.app()
    require_known(channel, "--channel", "channel", app.hooks.channels)
    items = app.interactions(
        channel=channel, customer=customer, case=case, kind=kind, limit=limit, after=after
    )
    if as_json:
        emit(items)
        return
    rows = [
        (
            i.id,
            obj.time(i.created_at),
            i.channel,
            i.direction[:3],
            i.customer_id or "",
            i.case_id or "",
            i.kind or "",
            i.sentiment or "",
            i.text[:70],
        )
        for i in items
    ]
    obj.console.print(
        table(
            "interactions",
            ["id", "at", "channel", "dir", "customer", "case", "kind", "sentiment", "text"],
            rows,
            caption=obj.times_caption,
        )
    )


@group.command("show")
@click.argument("interaction_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show(obj: CliContext, interaction_id: int, as_json: bool) -> None:
    """Show one interaction with its classification."""
    i = obj.app().interaction(interaction_id)
    if as_json:
        emit(i)
        return
    for k, v in i.model_dump().items():
        obj.console.print(f"[bold]{k}[/bold]: {v}", highlight=False)


def register(cli: click.Group) -> None:
    cli.add_command(group)
