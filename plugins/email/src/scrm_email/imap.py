"""Read IMAP mailboxes incrementally, by UID, and optionally wait for new mail with IDLE.

The cursor of each mailbox is ``{"uidvalidity": V, "last_uid": U}`` in scrm's plugin state
(``app.save_state("email", mailbox key)``).  UIDs mean nothing across a UIDVALIDITY change,
so a changed UIDVALIDITY resynchronises the whole folder: every message is read again and
the core's dedupe on (channel, Message-ID) stores each one once.  The cursor advances only
after the messages it covers are committed, so a crash re-reads, never skips.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from scrm_email.parse import encode_payload
from scrm_email.settings import MailboxSettings, TlsMode

if TYPE_CHECKING:
    from scrm.plugin import IngestReport, Scrm

__all__ = ["PollResult", "connect", "poll_mailbox", "watch_mailbox"]

log = logging.getLogger(__name__)

STATE_PLUGIN = "email"
#: Errors after which a watcher reconnects instead of giving up.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (IMAPClientError, OSError, EOFError)


@dataclass
class PollResult:
    """What one poll of one mailbox did."""

    mailbox: str
    uidvalidity: int
    account: str | None = None
    """The brand's address the mailbox receives (its messages' account)."""
    fetched: int = 0
    resynced: bool = False
    reports: list[IngestReport] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        out = {"fetched": self.fetched}
        for r in self.reports:
            for k, v in r.as_dict().items():
                out[k] = out.get(k, 0) + v
        return out


@contextmanager
def connect(mailbox: MailboxSettings) -> Iterator[IMAPClient]:
    """Open and log in to ``mailbox``'s server; log out on exit."""
    context = ssl.create_default_context()
    client = IMAPClient(
        mailbox.host,
        port=mailbox.effective_port,
        ssl=mailbox.tls is TlsMode.SSL,
        ssl_context=context if mailbox.tls is TlsMode.SSL else None,
        timeout=mailbox.timeout,
    )
    try:
        if mailbox.tls is TlsMode.STARTTLS:
            client.starttls(context)
        client.login(mailbox.username, mailbox.secret() or "")
        yield client
    finally:
        try:
            client.logout()
        except Exception:  # the connection may already be gone; nothing to clean up
            client.shutdown()


def _select(client: IMAPClient, folder: str) -> int:
    """Select ``folder`` read-only (so fetching sets no flags) and return its UIDVALIDITY."""
    response = client.select_folder(folder, readonly=True)
    return int(response[b"UIDVALIDITY"])


def poll_mailbox(
    app: Scrm,
    mailbox: MailboxSettings,
    client: IMAPClient,
    *,
    batch: int = 100,
    lock: threading.Lock | None = None,
) -> PollResult:
    """Fetch and ingest the messages of ``mailbox`` that arrived since the last poll."""
    key = mailbox.key
    validity = _select(client, mailbox.folder)
    state = app.load_state(STATE_PLUGIN, key) or {}
    last = int(state.get("last_uid", 0))
    result = PollResult(mailbox=key, uidvalidity=validity, account=mailbox.account)
    if state and state.get("uidvalidity") != validity:
        log.warning(
            "mailbox %s: UIDVALIDITY changed from %s to %s; reading the folder again "
            "(duplicates are recognised by Message-ID)",
            key,
            state.get("uidvalidity"),
            validity,
        )
        last, result.resynced = 0, True
    # "n:*" always matches the highest UID, even when it is below n: filter here.
    uids = sorted(u for u in client.search(["UID", f"{last + 1}:*"]) if u > last)
    for start in range(0, len(uids), batch):
        chunk = uids[start : start + batch]
        fetched = client.fetch(chunk, ["BODY.PEEK[]", "INTERNALDATE"])
        payloads = []
        for uid in chunk:
            data = fetched.get(uid)
            if data is None or b"BODY[]" not in data:
                continue  # expunged between SEARCH and FETCH
            payloads.append(
                encode_payload(
                    bytes(data[b"BODY[]"]),
                    source=f"imap:{key}#{uid}",
                    mailbox=key,
                    account=mailbox.account,
                    uid=uid,
                    uidvalidity=validity,
                    received_at=_iso(data.get(b"INTERNALDATE")),
                )
            )
        with lock or _nolock():
            report = app.ingest_native("email", payloads, source=f"imap:{key}")
            app.save_state(STATE_PLUGIN, key, {"uidvalidity": validity, "last_uid": chunk[-1]})
        result.fetched += len(payloads)
        result.reports.append(report)
    if not uids and (not state or result.resynced):
        app.save_state(STATE_PLUGIN, key, {"uidvalidity": validity, "last_uid": last})
    return result


@contextmanager
def _nolock() -> Iterator[None]:
    yield


def _iso(value: Any) -> str | None:
    if not isinstance(value, datetime):
        return None
    # imapclient returns INTERNALDATE as naive local time unless told otherwise.
    aware = value if value.tzinfo is not None else value.astimezone()
    return aware.astimezone(UTC).isoformat()


def _wait_for_mail(
    client: IMAPClient, stop: threading.Event, timeout: float, tick: float = 1.0
) -> bool:
    """IDLE until the server announces mail, ``timeout`` passes or ``stop`` is set."""
    client.idle()
    try:
        waited = 0.0
        while not stop.is_set() and waited < timeout:
            responses = client.idle_check(timeout=tick)
            waited += tick
            if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                return True
        return False
    finally:
        client.idle_done()


def watch_mailbox(
    app: Scrm,
    mailbox: MailboxSettings,
    stop: threading.Event,
    *,
    poll_interval: float,
    idle_timeout: float,
    batch: int = 100,
    lock: threading.Lock | None = None,
    on_result: Callable[[PollResult], None] | None = None,
    retry_delay: float = 5.0,
) -> None:
    """Poll ``mailbox`` until ``stop`` is set, waking on IDLE when the server offers it."""
    delay = retry_delay
    while not stop.is_set():
        try:
            with connect(mailbox) as client:
                idle = mailbox.idle and b"IDLE" in client.capabilities()
                log.info("watching %s (%s)", mailbox.key, "IDLE" if idle else "polling")
                delay = retry_delay
                while not stop.is_set():
                    result = poll_mailbox(app, mailbox, client, batch=batch, lock=lock)
                    if on_result is not None:
                        on_result(result)
                    if idle:
                        _wait_for_mail(client, stop, idle_timeout)
                    else:
                        stop.wait(poll_interval)
        except NETWORK_ERRORS as exc:
            log.warning(
                "mailbox %s: %s: %s; reconnecting in %.0fs",
                mailbox.key,
                type(exc).__name__,
                exc,
                delay,
            )
            stop.wait(delay)
            delay = min(delay * 2, 300.0)
