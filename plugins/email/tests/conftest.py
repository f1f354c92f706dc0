"""Real mail servers on 127.0.0.1 for the e-mail channel's tests, started by the tests.

``imap_server``: pymap's in-memory backend in a thread (IDLE, UIDPLUS; a restart gives the
folder a new UIDVALIDITY).  ``smtp_server``: aiosmtpd recording what it receives, able to
answer the next DATA with a chosen error.  No test touches the internet.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from imapclient import IMAPClient
from pymap.backend.dict import DictBackend
from pymap.imap import IMAPService

from scrm.core.config import Config

HOST = "127.0.0.1"
BRAND = "destek@acme.com.tr"
IMAP_USER = "destek@acme.com.tr"
IMAP_PASSWORD = "imap-Pw-7fq2K9xZ"
SMTP_USER = "scrm-relay"
SMTP_PASSWORD = "smtp-Pw-Q8w3Lr5T"
PLUGIN_ROOT = Path(__file__).resolve().parents[1]
REPO_ROOT = PLUGIN_ROOT.parents[1]
SAMPLE_DIR = PLUGIN_ROOT / "sample"
CHATWOOT = REPO_ROOT / ".." / "shared" / "data" / "email_fixtures_chatwoot"


def pytest_configure(config: pytest.Config) -> None:
    # The test SMTP server asks for AUTH over a plain connection on 127.0.0.1, on purpose.
    config.addinivalue_line(
        "filterwarnings", "ignore:Requiring AUTH while not requiring TLS:UserWarning"
    )
    config.addinivalue_line("filterwarnings", "ignore:Session.login_data is deprecated")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


class ImapServer:
    """pymap's dict backend serving one user, in a thread with its own event loop."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self) -> ImapServer:
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="pymap", daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("pymap did not start")
        if self._error is not None:
            raise RuntimeError(f"pymap failed: {self._error!r}")
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        parser = argparse.ArgumentParser()
        DictBackend.add_subparser("dict", parser.add_subparsers(dest="backend"))
        IMAPService.add_arguments(parser)
        args = parser.parse_args(
            [
                *("--host", HOST, "--port", str(self.port), "--no-tls", "dict"),
                *("--demo-user", IMAP_USER, "--demo-password", IMAP_PASSWORD),
            ]
        )
        args.debug, args.skip_services, args.passlib_cfg = False, [], None
        backend, config = await DictBackend.init(args)
        config.apply_context()
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with AsyncExitStack() as stack:
            await backend.start(stack)
            await IMAPService(backend, config).start(stack)
            self._ready.set()
            await self._stop.wait()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def restart(self) -> None:
        """Stop and start again: the folder is empty and gets a new UIDVALIDITY."""
        self.stop()
        self.start()

    def client(self) -> IMAPClient:
        c = IMAPClient(HOST, port=self.port, ssl=False, timeout=10)
        c.login(IMAP_USER, IMAP_PASSWORD)
        return c

    def deliver(self, *messages: bytes | EmailMessage, folder: str = "INBOX") -> None:
        """Append messages to ``folder`` as a mail server's delivery would."""
        c = self.client()
        try:
            for m in messages:
                c.append(folder, m if isinstance(m, bytes) else m.as_bytes())
        finally:
            c.logout()


@dataclass
class SmtpRecorder:
    """An aiosmtpd handler that records messages; ``fail_next`` answers the next DATAs."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    fail_next: list[str] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fail_next:
            return self.fail_next.pop(0)
        msg = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 2.0.0 Message accepted for delivery"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == SMTP_USER.encode()
            and auth_data.password == SMTP_PASSWORD.encode()
        )
        if ok:
            self.logins.append(SMTP_USER)
        return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    port: int
    recorder: SmtpRecorder
    controller: Controller


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    recorder = SmtpRecorder()
    port = free_port()
    controller = Controller(
        recorder,
        hostname=HOST,
        port=port,
        server_hostname="smtp.test",  # not socket.getfqdn(), a DNS lookup per connection
        authenticator=recorder.authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    yield SmtpServer(port, recorder, controller)
    controller.stop()


@pytest.fixture
def imap_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ImapServer]:
    # pymap's greeting names the host: without FQDN it asks socket.getfqdn(), a DNS lookup on
    # every connection, made in its event loop; a slow resolver then holds the greeting past
    # the client's timeout (a test timed out reading it).  No test asks the network anything.
    monkeypatch.setenv("FQDN", "imap.test")
    server = ImapServer(free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def email_settings() -> dict[str, Any]:
    """The ``[channels.email]`` section of the test configuration; override to add servers."""
    return {"addresses": [BRAND]}


@pytest.fixture
def scrm_config(scrm_database_url: str, email_settings: dict[str, Any]) -> Config:
    return Config(database_url=scrm_database_url, channels={"email": email_settings})


def server_settings(imap: ImapServer | None, smtp: SmtpServer | None) -> dict[str, Any]:
    """Return channel settings pointing at the test servers (plain connections, 127.0.0.1)."""
    settings: dict[str, Any] = {"addresses": [BRAND], "poll_interval": 300.0}
    if imap is not None:
        settings["mailboxes"] = [
            {
                "name": "support",
                "host": HOST,
                "port": imap.port,
                "tls": "plain",
                "username": IMAP_USER,
                "password": IMAP_PASSWORD,
                "timeout": 10,
            }
        ]
    if smtp is not None:
        settings["smtp"] = {
            "host": HOST,
            "port": smtp.port,
            "tls": "plain",
            "username": SMTP_USER,
            "password": SMTP_PASSWORD,
            "from_address": BRAND,
            "from_name": "Acme Müşteri Hizmetleri",
            "domain": "mail.acme.com.tr",
            "timeout": 10,
        }
    return settings


@pytest.fixture
def chatwoot_dir() -> Path:
    """The real recorded fixtures in ../shared/data (never copied into the repository)."""
    if not CHATWOOT.is_dir():
        pytest.skip(f"recorded e-mail fixtures absent: {CHATWOOT} (they live in ../shared/data)")
    return CHATWOOT


def build_mail(
    *,
    sender: str,
    subject: str,
    text: str,
    msgid: str,
    to: str = f"Acme Müşteri Hizmetleri <{BRAND}>",
    in_reply_to: str | None = None,
    references: str | None = None,
    date: str = "Mon, 21 Oct 2024 09:30:06 +0300",
    html: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """Build a UTF-8 message as a mail client would."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"], msg["Message-ID"] = date, msgid
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg


@pytest.fixture
def mail() -> Any:
    """The :func:`build_mail` factory."""
    return build_mail


@pytest.fixture
def settings_for() -> Any:
    """The :func:`server_settings` function."""
    return server_settings


@pytest.fixture
def test_passwords() -> tuple[str, str]:
    """The IMAP and SMTP passwords the test servers accept (must never be logged or stored)."""
    return (IMAP_PASSWORD, SMTP_PASSWORD)
