"""Secrets never leak (logs, errors, CLI output, the database); logs carry ids, not content."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
import weakref
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from helpers import message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serverkit import SyncClient, body_of, facebook_signature, make_key
from test_privacy import messenger, plant, scan

from scrm import hookimpl
from scrm.cli import build_cli
from scrm.core.app import Scrm
from scrm.core.bounds import clean_text
from scrm.core.config import Config, ConfigError, load_config
from scrm.core.logsafe import REDACTED, loggable, set_log_content
from scrm.core.plugins import get_plugin_manager
from scrm.core.services import outbox
from scrm.server import create_app
from scrm.server.requestlog import CREDENTIAL_PARAMS

# Integration: starts the server and reads its logs.
pytestmark = pytest.mark.integration

SECRETS = {
    "SCRM_CHANNELS__TWITTER__BEARER_TOKEN": "tw-bearer-S3cr3t-91f7",
    "SCRM_CHANNELS__TWITTER__CONSUMER_SECRET": "tw-consumer-S3cr3t-4c2a",
    "SCRM_CHANNELS__FACEBOOK__APP_SECRET": "fb-app-S3cr3t-77de",
    "SCRM_CHANNELS__FACEBOOK__PAGE_ACCESS_TOKEN": "fb-page-S3cr3t-0b3e",
    "SCRM_CHANNELS__FACEBOOK__VERIFY_TOKEN": "fb-verify-S3cr3t-3d81",
    "SCRM_CHANNELS__EMAIL__SMTP__PASSWORD": "smtp-pw-S3cr3t-5e1c",
    "SCRM_SERVER__SECRET_KEY": "server-key-S3cr3t-a9d0",
}
PLAIN = {
    "SCRM_CHANNELS__FACEBOOK__PAGE_ID": "1000111",
    "SCRM_CHANNELS__EMAIL__SMTP__HOST": "127.0.0.1",
    "SCRM_CHANNELS__EMAIL__SMTP__FROM_ADDRESS": "destek@acme.com.tr",
}


@pytest.fixture
def scrm_config(scrm_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Config:
    for k, v in {**SECRETS, **PLAIN}.items():
        monkeypatch.setenv(k, v)
    return load_config(database_url=scrm_database_url)


def test_secrets_never_appear_in_logs_output_errors_or_the_database(
    app: Scrm, cli, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert app.config.server.secret_key is not None
    seen: list[str] = []
    for name in ("twitter", "facebook", "email"):
        channel = app.channel(name)
        seen += [repr(channel.settings), str(channel.settings), str(vars(channel))]
        seen.append(channel.settings.model_dump_json())
    seen += [repr(app.config), str(app.config)]
    ids = plant(app)
    outbox.deliver(app)  # sends through the configured channels: they fail, offline
    for args in (
        ("plugins",),
        ("customers", "list", "--json"),
        ("customers", "show", str(ids["a"])),
        ("cases", "list", "--json"),
        ("outbox", "list", "--json"),
        ("rejects", "list"),
        ("customers", "export", str(ids["a"])),
        ("retention", "apply", "--dry-run"),
        ("customers", "erase", str(ids["a"]), "--yes"),
    ):
        result = cli(*args, expect=None)
        seen += [result.stdout, result.stderr]
    # A configuration error names the key, never the value next to it.
    os.environ["SCRM_CHANNELS__TWITTER__BRAND_USER_ID"] = "not-a-number"
    try:
        with pytest.raises(ConfigError) as err:  # every plugin's settings are checked at open
            Scrm(load_config(database_url=app.config.database_url), app.pm)
        seen.append(str(err.value))
        assert "channels.twitter.brand_user_id" in str(err.value)
    finally:
        del os.environ["SCRM_CHANNELS__TWITTER__BRAND_USER_ID"]
    seen += [r.getMessage() for r in caplog.records] + [caplog.text]
    everything = "\n".join(seen)
    assert "S3cr3t" not in everything
    assert scan(app.engine, ["S3cr3t"]) == set()


def test_world_readable_config_file_warns_clearly(tmp_path: Path) -> None:
    path = tmp_path / "scrm.toml"
    path.write_text('database_url = "sqlite:///x.db"\n', encoding="utf-8")
    path.chmod(0o644)
    with pytest.warns(UserWarning, match=r"readable by every user.*chmod 600"):
        load_config(path)
    path.chmod(0o600)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_config(path)


def test_logs_carry_ids_not_personal_data(app: Scrm, register_plugin, caplog) -> None:
    class Flaky:
        @hookimpl
        def resolve_identity(self, interaction):
            raise RuntimeError("lookup down")

    register_plugin(Flaky())
    caplog.set_level(logging.DEBUG)
    address = "ayse.privacy@example.com"
    app.ingest([message("m-1", "merhaba", channel="email", author=address)])
    assert "resolve_identity failed" in caplog.text
    assert address not in caplog.text and REDACTED in caplog.text
    caplog.clear()
    set_log_content(True)
    try:
        assert loggable(address) == address
        app.ingest([message("m-2", "merhaba", channel="email", author="x." + address)])
        assert "x." + address in caplog.text
    finally:
        set_log_content(False)
    assert loggable(address) == REDACTED


def test_log_content_follows_the_configuration(scrm_database_url: str) -> None:
    pm = get_plugin_manager()
    with Scrm(Config(database_url=scrm_database_url, log_content=True), pm):
        assert loggable("x") == "x"
    with Scrm(Config(database_url=scrm_database_url), pm):
        assert loggable("x") == REDACTED


def test_cli_help_lists_the_privacy_commands() -> None:
    runner = CliRunner()
    out = runner.invoke(build_cli(), ["customers", "--help"]).output
    assert "erase" in out and "export" in out
    assert "apply" in runner.invoke(build_cli(), ["retention", "--help"]).output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_server_logs_requests_without_tokens_or_search_terms(
    app: Scrm, scrm_database_url: str, tmp_path: Path
) -> None:
    """A real ``scrm serve``: what it prints names routes and statuses, never query values."""
    token = make_key(app, "admin")
    port = free_port()
    env = {
        **os.environ,
        "SCRM_DATABASE_URL": scrm_database_url,
        "SCRM_SERVER__DELIVER_INTERVAL": "0",
    }
    scrm = Path(sys.executable).with_name("scrm")
    proc = subprocess.Popen(
        [str(scrm), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    verify = SECRETS["SCRM_CHANNELS__FACEBOOK__VERIFY_TOKEN"]
    searched = "ayse.searched@example.com"
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            for _ in range(300):  # until it listens (or has died)
                assert proc.poll() is None, proc.communicate()
                try:
                    client.get("/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            hub = {"hub.mode": "subscribe", "hub.challenge": "4242"}
            r = client.get("/webhooks/facebook", params={**hub, "hub.verify_token": verify})
            assert (r.status_code, r.text) == (200, "4242")
            r = client.get("/webhooks/facebook", params={**hub, "hub.verify_token": "S3cr3t-guess"})
            assert r.status_code == 403
            key = {"Authorization": f"Bearer {token}"}
            r = client.get("/api/v1/customers", params={"search": searched}, headers=key)
            assert r.status_code == 200
            r = client.get(f"/api/v1/customers/by-email/{searched}", headers=key)
            assert r.status_code == 404
            for name in ("api_key", "token", "Access-Token"):
                r = client.get("/api/v1/customers", params={name: token})
                assert r.status_code == 400 and r.json()["error"]["code"] == "credential_in_url"
                assert token not in r.text
            body = body_of(messenger(("m.log-1", "psid-log", f"Yazdım: {searched}")))
            secret = SECRETS["SCRM_CHANNELS__FACEBOOK__APP_SECRET"]
            r = client.post(
                "/webhooks/facebook", content=body, headers=facebook_signature(body, secret)
            )
            assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    printed = out + err
    for value in (
        verify,
        "S3cr3t",
        searched,
        "ayse.searched",
        token,
        token[:12],
        "hub.verify_token",
    ):
        assert value not in printed, value
    # The request log is there (so the check above proves something): routes, not URLs.
    for line in (
        "GET /healthz 200",
        "GET /webhooks/facebook 200",
        "GET /webhooks/facebook 403",
        "GET /api/v1/customers 200",
        "GET - 404",
        "GET - 400",
        "POST /webhooks/facebook 200",
    ):
        assert line in out, (line, out)


_APIS: weakref.WeakKeyDictionary[Scrm, Any] = weakref.WeakKeyDictionary()


def spelled(name: str) -> st.SearchStrategy[str]:
    """``name`` in any case, with ``-`` or ``_`` between its words."""
    return st.tuples(*(st.sampled_from([c.lower(), c.upper()]) for c in name)).map(
        lambda cs: "".join(cs)
    ) | st.just(name.replace("_", "-"))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    credential=st.sampled_from(sorted(CREDENTIAL_PARAMS)).flatmap(spelled),
    other=st.text(alphabet="abcdefghiklmnopqrsuvwxyz_", min_size=1, max_size=12),
    value=st.text(max_size=30),
)
def test_a_credential_in_an_api_url_is_refused(
    app: Scrm, credential: str, other: str, value: str
) -> None:
    if app not in _APIS:  # one HTTP application per test, not per example
        _APIS[app] = create_app(app, background=False)
    client = SyncClient(_APIS[app])
    params = {"limit": "5", credential: value}
    r = client.get("/api/v1/customers", params=params)
    assert r.status_code == 400 and r.json()["error"]["code"] == "credential_in_url", params
    if other.replace("-", "_").lower() not in CREDENTIAL_PARAMS:
        r = client.get("/api/v1/customers", params={other: value})
        # No key: refused as usual (a NUL or lone surrogate as invalid), not for the URL.
        assert r.status_code == (422 if clean_text(value)[1] else 401)
    # Outside the API (a platform's handshake) query parameters are the platform's business.
    expected = 422 if clean_text(value)[1] else 200  # text no database could store is refused
    assert client.get("/healthz", params={credential: value}).status_code == expected
