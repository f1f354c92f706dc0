"""``scrm mastodon``: poll an instance once or continuously, check the token, read a thread."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import click
from rich.markup import escape

from scrm.plugin.cli import CliContext, show_poll_report, table
from scrm.plugin.polling import ApiError, AuthError, stream_name, watch_accounts
from scrm_mastodon.channel import MastodonChannel
from scrm_mastodon.client import MastodonClient
from scrm_mastodon.mapping import ID_PATTERN
from scrm_mastodon.poller import Poller, StreamResult, poll_all, pollers

__all__ = ["mastodon"]


def _channel(obj: CliContext) -> MastodonChannel:
    channel = obj.app().channel("mastodon")
    if not isinstance(channel, MastodonChannel):  # another plugin took the name
        raise click.ClickException(f"channel 'mastodon' is provided by {type(channel).__name__}")
    s = channel.settings
    if not s.instance_url or s.access_token is None:
        raise click.ClickException(
            "set channels.mastodon.instance_url and access_token (a user token of the brand "
            "account, scopes read and write:statuses)"
        )
    return channel


@click.group("mastodon")
def mastodon() -> None:
    """Listen on Mastodon: mentions, the brand's own statuses and searches."""


@mastodon.command("poll")
@click.option("--once", "mode", flag_value="once", default=True, help="Run one cycle (default).")
@click.option("--watch", "mode", flag_value="watch", help="Poll until interrupted.")
@click.option("--cycles", type=click.IntRange(min=1), help="With --watch: stop after N cycles.")
@click.pass_obj
def poll(obj: CliContext, mode: str, cycles: int | None) -> None:
    """Fetch new mentions, own statuses and search results and ingest them.

    Every configured account is read (``[channels.mastodon.accounts.<label>]``), each with
    its own cursors; an account whose token is refused is reported and the others are still
    read.  Cursors are kept in the database, so a restart continues where the last run
    stopped.
    """
    found = pollers(obj.app(), _channel(obj))
    if not found:
        raise click.ClickException(
            "nothing to poll: set channels.mastodon.poll_mentions, brand_account_id or "
            "search_queries"
        )
    try:
        if mode == "once":
            show_poll_report(obj, poll_all(found))
        else:
            watch_accounts(
                found, cycles, lambda report, _: show_poll_report(obj, report), (AuthError,),
                StreamResult,
            )  # fmt: skip
    except ApiError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        obj.err.print("stopped")
    finally:
        for poller in found:
            poller.client.close()


@mastodon.command("stream")
@click.option(
    "--max-events",
    type=click.IntRange(min=1),
    help="Stop after N events on each account (default: never).",
)
@click.option(
    "--account",
    "label",
    help="Listen on this account only ([channels.mastodon.accounts.<label>]); default: all.",
)
@click.pass_obj
def stream(obj: CliContext, max_events: int | None, label: str | None) -> None:
    """Listen to the streaming API: store mentions and the brand's statuses as they come.

    Every configured account with an instance and a token is listened on, each over its own
    connection; an account whose token is refused, or whose instance stays unreachable, is
    reported and the others go on (exit status 1 at the end).  A dropped connection is
    opened again with a growing pause; run `scrm mastodon poll` now and then to read what
    was said while nobody listened.
    """
    from scrm_mastodon.stream import Listener, Streamer, streamed_accounts

    app = obj.app()
    try:
        accounts = streamed_accounts(app, _channel(obj), label)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    if not accounts:
        raise click.ClickException("no mastodon account of this brand to listen on")
    listener = Listener(app, accounts)
    several = len(accounts) > 1

    def stopped(streamer: Streamer, exc: Exception) -> None:
        if several:  # said at once: the others may listen for days
            obj.err.print(escape(stream_name(streamer.channel, f"stopped: {exc}")), soft_wrap=True)

    previous = signal.signal(signal.SIGTERM, lambda *_: listener.stop())
    try:
        reports = listener.run(max_events, stopped)
    except KeyboardInterrupt:
        obj.err.print("stopped")
        return
    finally:
        signal.signal(signal.SIGTERM, previous)
        listener.close()
    if not several and reports[0].error:
        raise click.ClickException(reports[0].error)
    failed = []
    for streamer, report in zip(listener.streamers, reports, strict=True):
        obj.console.print(escape(stream_name(streamer.channel, str(report))), soft_wrap=True)
        if report.error:
            failed.append(streamer.channel.account_label)
    if failed:
        raise click.ClickException(
            f"{len(failed)} of {len(reports)} accounts stopped: {', '.join(failed)}"
        )


@mastodon.command("thread")
@click.argument("status_id")
@click.pass_obj
def thread(obj: CliContext, status_id: str) -> None:
    """Store the thread of STATUS_ID: the statuses it answers and the brand's replies below it."""
    import re

    if not re.match(ID_PATTERN, status_id):
        raise click.BadParameter(f"not a status id: {status_id!r}", param_hint="STATUS_ID")
    poller = Poller(obj.app(), _channel(obj))
    try:
        report = poller.thread(status_id)
    except ApiError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        poller.client.close()
    obj.console.print(
        f"thread of {status_id}: {report.stored} stored, {report.duplicates} already known, "
        f"{report.rejected} rejected"
    )


@mastodon.command("check")
@click.pass_obj
def check(obj: CliContext) -> None:
    """Verify the token (GET /api/v1/accounts/verify_credentials) and show the rate limit."""
    channel = _channel(obj)
    s = channel.settings
    client = MastodonClient(channel)
    try:
        r = client.request(
            "GET", "/api/v1/accounts/verify_credentials",
            endpoint="GET /api/v1/accounts/verify_credentials",
        )  # fmt: skip
    except ApiError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        client.close()
    me = r.body if isinstance(r.body, dict) else {}
    # What the server sent is printed as text, never as rich markup.
    acct, aid = escape(str(me.get("acct"))[:100]), escape(str(me.get("id"))[:64])
    obj.console.print(f"token OK: @{acct} (id {aid}) on {s.instance_url}")
    address = f"{acct}@{urlsplit(s.instance_url or '').hostname}" if "@" not in acct else acct
    if s.brand_acct != address:
        obj.console.print(
            f"its address is {address}: set channels.mastodon.brand_acct = {address!r} so that "
            "its messages name their account (several brands: list it in [brands.<key>] accounts)"
        )
    if not s.brand_account_id:
        obj.console.print(
            f"set channels.mastodon.brand_account_id = {aid!r} to record its statuses"
        )
    elif s.brand_account_id != aid:
        obj.console.print(
            f"warning: brand_account_id is {s.brand_account_id}, but the token belongs to {aid}: "
            "replies would be posted from another account"
        )
    rate = client.rate
    if rate is not None:
        rows = [(rate.limit, rate.remaining, _when(rate.reset))]
        obj.console.print(table("rate limit", ("limit", "remaining", "resets"), rows))


def _when(reset: float | None) -> str:
    if not reset:
        return ""
    left = max(0, int(reset - time.time()))
    return f"{datetime.fromtimestamp(reset, UTC):%H:%M:%S} UTC (in {left} s)"
