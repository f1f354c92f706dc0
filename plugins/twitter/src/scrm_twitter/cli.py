"""``scrm twitter``: poll X once or continuously, and check the credentials and budget."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import click

from scrm.plugin.cli import CliContext, show_poll_report, table
from scrm.plugin.polling import ApiError, PollReport
from scrm_twitter.budget import PLUGIN, STATE_KEY, Budget
from scrm_twitter.channel import ENDPOINTS, TwitterChannel
from scrm_twitter.client import XClient
from scrm_twitter.poller import poll_all, pollers, watch

__all__ = ["twitter"]


def _channel(obj: CliContext) -> TwitterChannel:
    channel = obj.app().channel("twitter")
    if not isinstance(channel, TwitterChannel):  # another plugin took the name
        raise click.ClickException(f"channel 'twitter' is provided by {type(channel).__name__}")
    return channel


@click.group("twitter")
def twitter() -> None:
    """Listen on X (Twitter): mentions, search queries and DMs, within a request budget."""


@twitter.command("poll")
@click.option("--once", "mode", flag_value="once", default=True, help="Run one cycle (default).")
@click.option("--watch", "mode", flag_value="watch", help="Poll until interrupted.")
@click.option("--cycles", type=click.IntRange(min=1), help="With --watch: stop after N cycles.")
@click.pass_obj
def poll(obj: CliContext, mode: str, cycles: int | None) -> None:
    """Fetch new mentions, search results and DMs and ingest them.

    Every configured account is read (``[channels.twitter.accounts.<label>]``), each with
    its own cursors and budget; an account whose credentials fail is reported and the others
    are still read.  Cursors are kept in the database, so a restart continues where the last
    run stopped.  With --watch the pause between cycles stretches to make the daily budget
    last.
    """
    channel = _channel(obj)
    found = pollers(obj.app(), channel)
    if not found:
        raise click.ClickException(
            "nothing to poll: set channels.twitter.brand_user_id (mentions), search_queries "
            "or poll_direct_messages"
        )
    try:
        if mode == "once":
            _show(obj, poll_all(found), None)
        else:
            watch(found, cycles, lambda report, pause: _show(obj, report, pause))
    except ApiError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        obj.err.print("stopped")
    finally:
        for poller in found:
            poller.client.close()


def _show(obj: CliContext, report: PollReport, pause: float | None) -> None:
    show_poll_report(obj, report)
    if pause is not None:
        obj.console.print(f"next cycle in {pause:.0f} s")


@twitter.command("check")
@click.option(
    "--account",
    "label",
    help="The account to check ([channels.twitter.accounts.<label>]); default: the first.",
)
@click.pass_obj
def check(obj: CliContext, label: str | None) -> None:
    """Verify the credentials (GET /2/users/me) and show rate limits and the budget left."""
    channel = _channel(obj)
    if label is not None:
        try:
            channel = channel.by_label(label)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from None
    s = channel.settings
    client = XClient(channel)
    try:
        if s.has_user_auth():
            r = client.request("GET", "/2/users/me", endpoint="GET /2/users/me", auth="user")
            via = client.credential_name("user")
        elif s.bearer_token and s.brand_user_id:
            path = f"/2/users/{s.brand_user_id}"
            r = client.request("GET", path, endpoint="GET /2/users/:id", auth="app")
            via = client.credential_name("app")
        else:
            raise click.ClickException(
                "set channels.twitter.bearer_token and brand_user_id, or user credentials"
            )
    except ApiError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        client.close()
    me = r.body.get("data") or {}
    obj.console.print(f"credentials OK: @{me.get('username')} (id {me.get('id')}) via {via}")
    if s.brand_user_id and me.get("id") and me["id"] != s.brand_user_id and s.has_user_auth():
        obj.console.print(
            f"warning: brand_user_id is {s.brand_user_id}, but the user credentials belong to "
            f"{me['id']}: replies would be posted from another account"
        )
    app = obj.app()
    budget = Budget(app, s, key=channel.state_key(STATE_KEY))
    stored = (app.load_state(PLUGIN, budget.key) or {}).get("rates", {})
    rates = {**stored, **{ep: vars(rt) for ep, rt in client.rates.items()}}
    rows = [
        (ep, r.get("limit"), r.get("remaining"), _when(obj, r.get("reset")))
        for ep, r in rates.items()
    ]
    obj.console.print(table("rate limits", ("endpoint", "limit", "remaining", "resets"), rows))
    keys: list[str | None] = [*ENDPOINTS, None]
    brows = [
        (k or "all", budget.used(k), budget.cap(k) or "no cap",
         "" if k is None else (budget.remaining(k) if budget.remaining(k) is not None else "no cap"))
        for k in keys
    ]  # fmt: skip
    obj.console.print(table("budget today (UTC)", ("endpoint", "used", "cap", "left"), brows))


def _when(obj: CliContext, reset: float | None) -> str:
    if not reset:
        return ""
    left = max(0, int(reset - time.time()))
    return f"{obj.time(datetime.fromtimestamp(reset, UTC), offset=True)} (in {left} s)"
