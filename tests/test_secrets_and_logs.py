"""Secrets never leak (logs, errors, CLI output, the database); logs carry ids, not content."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import message
from test_privacy import plant, scan

from scrm import hookimpl
from scrm.cli import build_cli
from scrm.core.app import Scrm
from scrm.core.config import Config, load_config
from scrm.core.logsafe import REDACTED, loggable, set_log_content
from scrm.core.plugins import get_plugin_manager

SECRETS = {
    "SCRM_CHANNELS__TWITTER__BEARER_TOKEN": "tw-bearer-S3cr3t-91f7",
    "SCRM_CHANNELS__TWITTER__CONSUMER_SECRET": "tw-consumer-S3cr3t-4c2a",
    "SCRM_CHANNELS__FACEBOOK__APP_SECRET": "fb-app-S3cr3t-77de",
    "SCRM_CHANNELS__FACEBOOK__PAGE_ACCESS_TOKEN": "fb-page-S3cr3t-0b3e",
    "SCRM_CHANNELS__EMAIL__SMTP__PASSWORD": "smtp-pw-S3cr3t-5e1c",
    "SCRM_SERVER__SECRET_KEY": "server-key-S3cr3t-a9d0",
}
PLAIN = {
    "SCRM_CHANNELS__FACEBOOK__PAGE_ID": "1234567890",
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
    app.workflow.deliver()  # sends through the configured channels: they fail, offline
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
        bad = Scrm(load_config(database_url=app.config.database_url), app.pm)
        with pytest.raises(Exception) as err:
            bad.channel("twitter")
        seen.append(str(err.value))
        bad.close()
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
    pm = get_plugin_manager(Config(database_url=scrm_database_url))
    with Scrm(Config(database_url=scrm_database_url, log_content=True), pm):
        assert loggable("x") == "x"
    with Scrm(Config(database_url=scrm_database_url), pm):
        assert loggable("x") == REDACTED


def test_cli_help_lists_the_privacy_commands() -> None:
    runner = CliRunner()
    out = runner.invoke(build_cli(), ["customers", "--help"]).output
    assert "erase" in out and "export" in out
    assert "apply" in runner.invoke(build_cli(), ["retention", "--help"]).output
