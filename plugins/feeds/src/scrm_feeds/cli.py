"""``scrm feeds``: read the configured feeds now, and show each source's state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from scrm.plugin.cli import (
    CliContext,
    emit,
    exit_if_failed,
    placement_options,
    show_poll_report,
    table,
)
from scrm_feeds.channel import FeedsChannel

if TYPE_CHECKING:
    from scrm_feeds.poller import Poller

# The poller (and with it httpx) is imported when a command runs: `scrm --help` stays fast.

__all__ = ["feeds"]


def _poller(obj: CliContext) -> Poller:
    channel = obj.app().channel("feeds")
    if not isinstance(channel, FeedsChannel):  # another plugin took the name
        raise click.ClickException(f"channel 'feeds' is provided by {type(channel).__name__}")
    try:
        sources = channel.sources()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if not sources:
        raise click.ClickException(
            "no feeds configured: add [[channels.feeds.sources]] tables (name, url or path)"
        )
    from scrm_feeds.poller import Poller

    return Poller(obj.app(), channel)


def _when(obj: CliContext, ts: float | None) -> str:
    """A state's instant (seconds since the epoch) in the configured time zone; "" for none."""
    return obj.time(datetime.fromtimestamp(ts, UTC)) if ts else ""


@click.group("feeds")
def feeds() -> None:
    """Listen on blogs, news sites, forums, YouTube and alert services (RSS, Atom, JSON Feed)."""


@feeds.command("poll")
@click.option("--source", "names", multiple=True, help="Only this source (repeatable).")
@click.option("--force", is_flag=True, help="Read the sources even if they are not due yet.")
@placement_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def poll(
    obj: CliContext,
    names: tuple[str, ...],
    force: bool,
    as_of: str | None,
    newest: str | None,
    as_json: bool,
) -> None:
    """Read the feeds that are due and ingest the items naming the brand's terms.

    Each source is read on its own: one failing is listed with its error and backed off,
    and the others are read all the same.  Exits 1 when a source failed.
    """
    poller = _poller(obj)
    if not any(s.terms or src.match_all or src.terms for src, s in poller.channel.sources()):
        raise click.ClickException(
            "no terms to match: set channels.feeds.terms (the brand's names), or match_all "
            "on a source that is about the brand"
        )
    try:
        report = poller.poll(names, force=force, placement=obj.placement(as_of, newest))
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="--source") from None
    finally:
        poller.close()
    show_poll_report(obj, report, as_json)
    exit_if_failed(report, "feeds")


@feeds.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def status(obj: CliContext, as_json: bool) -> None:
    """Show each source: last read, last success, consecutive errors, next read, last error."""
    poller = _poller(obj)
    try:
        found = [(src, poller.state(src)) for src in poller.sources()]
    finally:
        poller.close()
    if as_json:
        emit([{"name": src.name, "location": src.location, "interval": src.interval,
               "enabled": src.enabled, **st} for src, st in found])  # fmt: skip
        return
    rows = [
        (src.name, src.url or src.path, _when(obj, st.get("last_checked")),
         _when(obj, st.get("last_ok")), st.get("failures", 0),
         _when(obj, st.get("next_due")) or "now", st.get("last_error") or "")
        for src, st in found
    ]  # fmt: skip
    cols = ("source", "location", "last read", "last ok", "errors", "next", "last error")
    obj.console.print(table(None, cols, rows, caption=obj.times_caption))
