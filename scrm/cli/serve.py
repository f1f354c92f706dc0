"""``scrm serve``, ``scrm apikey``, ``scrm webhooks`` and ``scrm inbox``: the HTTP service."""

from __future__ import annotations

import copy
from typing import Any

import click

from scrm.cli.context import CliContext, emit, table
from scrm.core import apikeys, inbox, webhooks
from scrm.core.services import apikeys as key_service

__all__ = ["register"]

actor_option = click.option(
    "--actor",
    envvar="SCRM_AGENT",
    default="cli",
    show_default=True,
    help="Who is acting, for the audit log (env SCRM_AGENT).",
)


#: uvicorn's "trace" level is left out: it logs every request's scope, query string included.
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging configuration plus scrm's loggers, at ``level``.

    uvicorn's access log is off (``access_log=False``): it writes each URL whole, with the
    verify tokens, search terms and keys it may carry.  scrm's request log
    (:mod:`scrm.server.requestlog`, logger ``scrm.access``) takes its place on standard
    output; scrm's other loggers write to standard error next to uvicorn's.
    """
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["handlers"]["scrm_access"] = {
        "formatter": "default",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stdout",
    }
    config["loggers"]["scrm"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    config["loggers"]["scrm.access"] = {
        "handlers": ["scrm_access"],
        "level": level.upper(),
        "propagate": False,
    }
    return config


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="TCP port.")
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS),
    default="info",
    show_default=True,
    help="Log level of uvicorn and scrm (info logs one line per request, without its URL).",
)
@click.pass_obj
def serve(obj: CliContext, host: str, port: int, log_level: str) -> None:
    """Run the HTTP service: REST API under /api/v1, agent console under /app, /healthz,
    /readyz, channel webhooks.

    The API's interactive docs are at /docs (Swagger UI) and /redoc, its schema at
    /openapi.json; none of them needs a key, every API operation does.  Agents sign in to
    the console (/app) with their API key; set server.secret_key so that sign-ins outlive
    a restart.
    """
    import uvicorn

    from scrm.server import create_app

    api = create_app(obj.app())
    click.echo(f"API docs: http://{host}:{port}/docs", err=True)
    click.echo(f"Agent console: http://{host}:{port}/app", err=True)
    uvicorn.run(
        api,
        host=host,
        port=port,
        log_level=log_level,
        log_config=log_config(log_level),
        access_log=False,
        server_header=False,
    )


# -- API keys -------------------------------------------------------------------------------


@click.group("apikey")
def apikey_group() -> None:
    """REST API keys (stored hashed; the token is shown once)."""


@apikey_group.command("create")
@click.argument("name")
@click.option(
    "--role", type=click.Choice(apikeys.ROLES), required=True, help="What the key may do."
)
@click.option(
    "--department", "departments", multiple=True, help="Agent keys: a department (repeatable)."
)
@click.option("--agent", help="Agent keys: the agent username the key acts as.")
@actor_option
@click.pass_obj
def apikey_create(
    obj: CliContext,
    name: str,
    role: str,
    departments: tuple[str, ...],
    agent: str | None,
    actor: str,
) -> None:
    """Create an API key NAME and print its token (once: it is not stored)."""
    key, token = key_service.create(
        obj.app(), name=name, role=role, departments=departments, agent=agent, actor=actor
    )
    click.echo(f"API key {key.id} ({key.name}, {key.role}) created. Its token, shown only now:")
    click.echo(token)


@apikey_group.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked keys.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def apikey_list(obj: CliContext, include_revoked: bool, as_json: bool) -> None:
    """List API keys (prefix, role, departments; never the token)."""
    with obj.app().session() as s:
        keys = apikeys.list_keys(s, include_revoked=include_revoked)
    if as_json:
        emit(keys)
        return
    rows = [
        (
            k.id,
            k.name,
            k.prefix + "…",
            k.role,
            ",".join(k.departments) or "-",
            k.agent or "-",
            obj.time(k.last_used_at),
            "revoked" if k.revoked_at else "active",
        )
        for k in keys
    ]
    cols = ["id", "name", "prefix", "role", "departments", "agent", "last used", "state"]
    obj.console.print(table("API keys", cols, rows, caption=obj.times_caption))


@apikey_group.command("revoke")
@click.argument("key_id", type=int)
@actor_option
@click.pass_obj
def apikey_revoke(obj: CliContext, key_id: int, actor: str) -> None:
    """Revoke API key KEY_ID at once."""
    key = key_service.revoke(obj.app(), key_id, actor=actor)
    click.echo(f"API key {key.id} ({key.name}) revoked")


# -- outgoing webhooks ----------------------------------------------------------------------


@click.group("webhooks")
def webhooks_group() -> None:
    """Outgoing webhooks: subscribers receive signed events."""


@webhooks_group.command("add")
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    type=click.Choice(webhooks.EVENT_TYPES),
    help="An event type (repeatable); none: every event.",
)
@click.option("--description", help="What the subscriber is.")
@actor_option
@click.pass_obj
def webhooks_add(
    obj: CliContext, url: str, events: tuple[str, ...], description: str | None, actor: str
) -> None:
    """Subscribe URL to events and print its signing secret (once)."""
    app = obj.app()
    with app.session() as s:
        sub, secret = webhooks.add_subscription(
            s,
            url=url,
            event_types=events,
            actor=actor,
            config=app.config.server,
            description=description,
        )
    click.echo(f"webhook {sub.id} added for {', '.join(sub.event_types) or 'every event'}.")
    click.echo("Its signing secret, shown only now (derived from the server key):")
    click.echo(secret)


@webhooks_group.command("list")
@click.option("--all", "include_inactive", is_flag=True, help="Include removed subscriptions.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def webhooks_list(obj: CliContext, include_inactive: bool, as_json: bool) -> None:
    """List subscriptions with pending, sent and failed deliveries and the last error."""
    with obj.app().session() as s:
        subs = webhooks.list_subscriptions(s, include_inactive=include_inactive)
    if as_json:
        emit(subs)
        return
    rows = [
        (
            w.id,
            w.url,
            ",".join(w.event_types) or "*",
            "active" if w.active else "removed",
            w.pending,
            w.sent,
            w.failed,
            (w.last_error or "")[:60],
        )
        for w in subs
    ]
    cols = ["id", "url", "events", "state", "pending", "sent", "failed", "last error"]
    obj.console.print(table("webhooks", cols, rows))


@webhooks_group.command("remove")
@click.argument("subscription_id", type=int)
@actor_option
@click.pass_obj
def webhooks_remove(obj: CliContext, subscription_id: int, actor: str) -> None:
    """Remove a subscription; its pending deliveries are cancelled."""
    with obj.app().session() as s:
        webhooks.remove_subscription(s, subscription_id, actor=actor)
    click.echo(f"webhook {subscription_id} removed")


@webhooks_group.command("test")
@click.argument("subscription_id", type=int)
@click.pass_obj
def webhooks_test(obj: CliContext, subscription_id: int) -> None:
    """Send a signed test event to a subscription now and say how it went."""
    app = obj.app()
    with app.session() as s:
        ids = webhooks.enqueue_event(
            s, webhooks.TEST_EVENT, {"message": "test"}, subscription_ids=[subscription_id]
        )
    if not ids:
        raise click.ClickException(f"no active webhook subscription {subscription_id}")
    report = webhooks.deliver(app.Session, app.config.server, only=ids)
    if report.sent:
        click.echo(f"webhook {subscription_id}: test event delivered")
        return
    raise click.ClickException(
        f"webhook {subscription_id}: test event not delivered: {'; '.join(report.errors)}"
    )


@webhooks_group.command("deliver")
@click.option(
    "--limit",
    default=100,
    show_default=True,
    type=int,
    help="At most this many deliveries in this run.",
)
@click.pass_obj
def webhooks_deliver(obj: CliContext, limit: int) -> None:
    """Deliver due webhook events once (`scrm serve` does it in the background)."""
    app = obj.app()
    report = webhooks.deliver(app.Session, app.config.server, limit=limit)
    click.echo(f"sent {report.sent}, retrying {report.retried}, failed {report.failed}")
    for err in report.errors[:20]:
        click.echo(f"  {err}", err=True)


# -- webhook inbox --------------------------------------------------------------------------


@click.group("inbox")
def inbox_group() -> None:
    """Channel webhook deliveries stored before they were acknowledged."""


@inbox_group.command("process")
@click.option(
    "--limit",
    default=1000,
    show_default=True,
    type=int,
    help="At most this many deliveries in this run.",
)
@click.pass_obj
def inbox_process(obj: CliContext, limit: int) -> None:
    """Ingest due deliveries (those a crash after the 200 or a failure left behind).

    A delivery that fails is tried again after a backoff, and parked as dead after a few
    attempts. Exits 1 when a delivery failed in this run and waits for a retry; parked ones
    are reported (see `scrm inbox list --dead`) but do not fail the run.
    """
    report = inbox.process_pending(obj.app(), limit=limit)
    r = report.ingest
    click.echo(
        f"processed {report.processed}, retrying {report.retrying}, parked {report.parked}: "
        f"stored {r.stored}, duplicates {r.duplicates}, rejected {r.rejected}"
    )
    if report.dead:
        click.echo(
            f"{report.dead} deliveries parked as dead: see `scrm inbox list --dead`, fix the "
            "cause, then `scrm inbox retry ID` (or --all)",
            err=True,
        )
    if report.retrying:
        raise SystemExit(1)


@inbox_group.command("list")
@click.option(
    "--status",
    type=click.Choice(["pending", "processed", "dead"]),
    help="Only deliveries in this state.",
)
@click.option("--dead", is_flag=True, help="Only deliveries parked after too many failures.")
@click.option("--limit", default=50, show_default=True, type=int, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def inbox_list(obj: CliContext, status: str | None, dead: bool, limit: int, as_json: bool) -> None:
    """List the newest deliveries with their status, attempts and error."""
    items = inbox.list_inbox(obj.app(), status="dead" if dead else status, limit=limit)
    if as_json:
        emit(items)
        return
    rows = [
        (
            i.id,
            i.channel,
            obj.time(i.received_at),
            i.status,
            i.attempts,
            obj.time(i.next_attempt_at) if i.status == "pending" else "",
            (i.error or "")[:80],
        )
        for i in items
    ]
    cols = ["id", "channel", "received", "status", "attempts", "next try", "error"]
    obj.console.print(table("inbox", cols, rows, caption=obj.times_caption))


@inbox_group.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "all_", is_flag=True, help="Every delivery parked as dead.")
@actor_option
@click.pass_obj
def inbox_retry(obj: CliContext, ids: tuple[int, ...], all_: bool, actor: str) -> None:
    """Queue deliveries parked as dead again, after fixing the cause (due now, attempts reset).

    The next `scrm inbox process` or worker run processes them.
    """
    if bool(ids) == all_:
        raise click.UsageError("name inbox ids or --all")
    queued = inbox.retry(obj.app(), None if all_ else ids, actor=actor)
    click.echo(
        f"queued {len(queued)} deliveries again"
        + (f": {', '.join(map(str, queued))}" if queued else "")
    )


def register(cli: click.Group) -> None:
    for command in (serve, apikey_group, webhooks_group, inbox_group):
        cli.add_command(command)
