"""``scrm email``: import stored mail and poll IMAP mailboxes."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scrm.plugin.cli import placement_options
from scrm.plugin.polling import readable_accounts
from scrm_email.imap import PollResult, connect, poll_mailbox, watch_mailbox
from scrm_email.sources import iter_payloads

if TYPE_CHECKING:
    from scrm.plugin.cli import CliContext
    from scrm_email.channel import EmailChannel
    from scrm_email.settings import MailboxSettings

__all__ = ["email_group"]

log = logging.getLogger(__name__)


def _channel(obj: CliContext) -> EmailChannel:
    from scrm_email.channel import EmailChannel

    channel = obj.app().channel("email")
    assert isinstance(channel, EmailChannel)
    return channel


@click.group("email")
def email_group() -> None:
    """Read e-mail: import .eml/mbox/Maildir files, poll IMAP mailboxes."""


@email_group.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@placement_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
def import_(
    obj: CliContext, paths: tuple[Path, ...], as_of: str | None, newest: str | None, as_json: bool
) -> None:
    """Import PATHS: .eml files, mbox files, Maildir folders or folders of .eml files.

    Messages already stored (same Message-ID) are counted as duplicates; a message that
    cannot be read is kept in `scrm rejects` and the exit status is 3.
    """
    from scrm.plugin import IngestReport
    from scrm.plugin.cli import report_summary

    placement = obj.placement(as_of, newest)
    _channel(obj)  # fail early on bad settings
    app = obj.app()
    if placement is not None and len(paths) > 1:
        # One input, so that --as-of moves every path by the same amount.
        payloads = (p for path in paths for p in iter_payloads(path))
        report = app.ingest_native("email", payloads, source="email import", placement=placement)
        report_summary(obj, report, as_json)
        return
    total = IngestReport()
    for path in paths:
        total.add(
            app.ingest_native("email", iter_payloads(path), source=str(path), placement=placement)
        )
    report_summary(obj, total, as_json)


def _selected(app: Any, channel: EmailChannel, names: tuple[str, ...]) -> list[MailboxSettings]:
    try:
        boxes = channel.mailboxes(readable_accounts(app, channel))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if not boxes:
        raise click.ClickException(
            "no mailbox is configured: add [[channels.email.mailboxes]] to scrm.toml"
        )
    if not names:
        return list(boxes)
    known = {m.key: m for m in boxes}
    missing = [n for n in names if n not in known]
    if missing:
        raise click.ClickException(
            f"unknown mailbox {missing[0]!r}; configured: {', '.join(sorted(known))}"
        )
    return [known[n] for n in names]


def _print(obj: CliContext, result: PollResult, as_json: bool) -> None:
    from scrm.plugin.cli import emit

    data: dict[str, Any] = {
        "mailbox": result.mailbox,
        "account": result.account,
        "uidvalidity": result.uidvalidity,
    }
    data.update(result.totals())
    data["resynced"] = result.resynced
    if as_json:
        emit(data)
    elif result.fetched or result.resynced:
        obj.console.print(
            f"{result.mailbox}: fetched {result.fetched}, stored {data.get('stored', 0)}, "
            f"duplicates {data.get('duplicates', 0)}, rejected {data.get('rejected', 0)}"
            + (" (UIDVALIDITY changed: folder read again)" if result.resynced else "")
        )


@email_group.command("poll")
@click.option(
    "--once", "mode", flag_value="once", default=True, help="Poll once and exit (default)."
)
@click.option("--watch", "mode", flag_value="watch", help="Keep polling; wake on IMAP IDLE.")
@click.option("--mailbox", "names", multiple=True, help="Only this mailbox (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per mailbox poll.")
@click.pass_obj
def poll(obj: CliContext, mode: str, names: tuple[str, ...], as_json: bool) -> None:
    """Fetch new mail from the configured IMAP mailboxes and ingest it.

    Each mailbox remembers the last UID read; a changed UIDVALIDITY reads the folder again
    (messages already stored are recognised by Message-ID).  With --watch, runs until
    interrupted, using IMAP IDLE where the server offers it.
    """
    channel = _channel(obj)
    app = obj.app()
    settings = channel.settings
    boxes = _selected(app, channel, names)
    if mode == "once":
        failed = []
        for box in boxes:
            try:
                with connect(box) as client:
                    result = poll_mailbox(app, box, client, batch=settings.fetch_batch)
            except Exception as exc:
                failed.append(box.key)
                obj.err.print(f"[red]{box.key}: {type(exc).__name__}: {exc}[/red]")
                continue
            _print(obj, result, as_json)
        if failed:
            raise click.ClickException(f"could not poll {', '.join(failed)}")
        return
    stop = threading.Event()
    lock = threading.Lock()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threads = [
        threading.Thread(
            target=watch_mailbox,
            name=f"email:{box.key}",
            args=(app, box, stop),
            kwargs={
                "poll_interval": settings.poll_interval,
                "idle_timeout": settings.idle_timeout,
                "batch": settings.fetch_batch,
                "lock": lock,
                "on_result": lambda r: _print(obj, r, as_json),
            },
            daemon=True,
        )
        for box in boxes
    ]
    for t in threads:
        t.start()
    try:
        while any(t.is_alive() for t in threads) and not stop.is_set():
            stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
        signal.signal(signal.SIGTERM, previous)


def poll_task(app: Any, now: Any) -> str:
    """Poll every configured mailbox once (the ``poll:email`` task of ``scrm worker``)."""
    channel = app.channel("email")
    done = []
    for box in channel.mailboxes(readable_accounts(app, channel)):
        with connect(box) as client:
            result = poll_mailbox(app, box, client, batch=channel.settings.fetch_batch)
        done.append(f"{box.key}: {result.totals()}")
    return "; ".join(done) or "no mailboxes configured"
