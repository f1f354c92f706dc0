"""The first hour: configuration checked before anything runs, one-line errors with a fix and
an exit code, nothing stored or created by a mistake.

Most tests run the real entry point (``scrm.cli.main``, as the ``scrm`` script does) in a
fresh folder, so that finding ``./scrm.toml``, building the plugins from it and the exit code
are what an operator gets.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers import message
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from scrm.cli import ExitCode, main
from scrm.core.app import open_app
from scrm.core.config import Config, ConfigError
from scrm.core.configcheck import masked
from scrm.core.models import Case, Reject
from scrm.core.plugins import get_plugin_manager

# Integration: runs the whole command line against real database files and servers.
pytestmark = pytest.mark.integration

STARTER = 'database_url = "sqlite:///crm.db"\n'


class Run:
    """``scrm`` run in-process in ``folder``: exit code, stdout and stderr."""

    def __init__(self, folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
        self.folder, self.capsys, self.monkeypatch = folder, capsys, monkeypatch
        for key in [k for k in os.environ if k.startswith("SCRM_") and "TEST" not in k]:
            monkeypatch.delenv(key)
        monkeypatch.chdir(folder)

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        self.monkeypatch.setattr(sys, "argv", ["scrm", *args])
        with pytest.raises(SystemExit) as done:
            main()
        out, err = self.capsys.readouterr()
        return int(done.value.code or 0), out, err

    def write(self, toml: str) -> Path:
        path = self.folder / "scrm.toml"
        path.write_text(toml, encoding="utf-8")
        path.chmod(0o600)
        return path


@pytest.fixture
def run(tmp_path: Path, capsys, monkeypatch) -> Run:
    return Run(tmp_path, capsys, monkeypatch)


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("Error: "), err
    return lines[0]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


# --------------------------------------------------------------------------- configuration


BAD_SECTIONS = [
    (
        '[plugins.sla.policies.normal]\nfirst_response = "4 hours"\n',
        ["plugins.sla.policies.normal.first_response", '"PT4H"', "built-in plugin 'sla'"],
    ),
    (
        '[plugins.classifier]\ntaxnomy = "x.toml"\n',
        ["plugins.classifier", "taxnomy", "expected: taxonomy"],
    ),
    (
        "[plugins.marketing]\ncampaign = []\n",
        ["plugins.marketing.campaign: not a setting", "fix its spelling or remove it"],
    ),
    ("[channels.twiter]\n", ["[channels.twiter]", "channels: ", "twitter", "Fix the name"]),
    ("[plugins.slaa]\n", ["[plugins.slaa]", "plugins: ", "sla", "remove the section"]),
    ("[plugins.manual]\nx = 1\n", ["plugin 'manual' takes no settings"]),
    (
        '[channels.twitter]\nbearer_tokn = "abc"\n',
        ["channels.twitter.bearer_tokn: not a setting"],
    ),
    ('database_url = "mysql://u@h/crm"\n', ["unsupported database 'mysql'", "postgresql://"]),
]


@pytest.mark.parametrize(("toml", "expected"), BAD_SECTIONS, ids=lambda v: str(v)[:24])
def test_an_invalid_setting_stops_every_command_with_one_line(
    run: Run, toml: str, expected: list[str]
) -> None:
    run.write(toml if toml.startswith("database_url") else STARTER + toml)
    for args in (["cases", "list"], ["classify", "--text", "x"], ["plugins"], ["config", "check"]):
        code, out, err = run(*args)
        line = one_line(err)
        assert code == ExitCode.CONFIG, (args, err)
        assert "scrm.toml" in line and all(e in line for e in expected), line
        assert out == ""
    assert not (run.folder / "crm.db").exists()
    assert run("--help")[0] == 0 and run("cases", "list", "--help")[0] == 0


def test_a_setting_from_the_environment_is_named_with_its_variable(run: Run) -> None:
    run.write(STARTER)
    run.monkeypatch.setenv("SCRM_PLUGINS__SLA__WARN_BEFORE", "soon")
    code, _, err = run("cases", "list")
    line = one_line(err)
    assert code == ExitCode.CONFIG
    assert "the environment (SCRM_PLUGINS__SLA__WARN_BEFORE)" in line
    assert "plugins.sla.warn_before" in line and "soon" not in line  # keys, never values


def test_a_disabled_plugin_keeps_its_section_without_complaint(run: Run) -> None:
    run.write(STARTER + "[plugins.marketing]\ncampaigns = []\n")
    run.monkeypatch.setenv("SCRM_DISABLE_PLUGINS", "marketing")
    code, out, err = run("config", "check")
    assert code == 0, err
    assert json.loads(out)["plugins"] == {"marketing": {"campaigns": []}}


def test_config_check_prints_the_effective_configuration_with_secrets_masked(run: Run) -> None:
    run.write(
        'database_url = "postgresql://crm:pg-pass-1@127.0.0.1/crm"\n'
        '[server]\nsecret_key = "server-secret-1"\n'
        '[channels.twitter]\nbearer_token = "bearer-1"\nconsumer_key = "ck-1"\n'
        'brand_user_id = "42"\n'
        '[channels.email.smtp]\nhost = "127.0.0.1"\nfrom_address = "destek@acme.example"\n'
        'password = "smtp-pass-1"\n'
    )
    code, out, err = run("config", "check")
    assert code == 0, err
    for secret in ("pg-pass-1", "server-secret-1", "bearer-1", "ck-1", "smtp-pass-1"):
        assert secret not in out + err
    shown = json.loads(out)
    assert shown["database_url"] == "postgresql://crm:***@127.0.0.1/crm"
    assert shown["channels"]["twitter"] == {
        "bearer_token": "***",
        "consumer_key": "***",
        "brand_user_id": "42",
    }
    assert shown["channels"]["email"]["smtp"]["host"] == "127.0.0.1"
    assert shown["config_file"] == "scrm.toml" and shown["batch_size"] == 1000
    assert "configuration is valid: scrm.toml" in err


SECRET_NAMES = ["token", "bearer_token", "password", "app_secret", "consumer_key", "api_keys"]
secret_items = st.tuples(
    st.sampled_from(SECRET_NAMES), st.text(alphabet="abcdefghij", min_size=6, max_size=12)
)
plain_keys = st.sampled_from(["host", "port", "brand_user_id", "keywords", "monkey"])
plain_items = st.tuples(plain_keys, st.text(alphabet="0123456789", min_size=6, max_size=12))
sections = st.recursive(
    st.lists(secret_items | plain_items, max_size=4).map(dict),
    lambda children: st.dictionaries(plain_keys, children, max_size=3),
    max_leaves=10,
)


def _secrets(tree: object) -> list[str]:
    if isinstance(tree, dict):
        return [s for k, v in tree.items() for s in ([v] if k in SECRET_NAMES else _secrets(v))]
    return []


@given(channels=st.dictionaries(st.sampled_from(["twitter", "email"]), sections, max_size=2))
def test_masking_never_shows_a_value_of_a_secret_key(channels: dict) -> None:
    shown = json.dumps(masked(Config.model_construct(channels=channels)))
    for secret in _secrets(channels):
        assert f'"{secret}"' not in shown


# --------------------------------------------------------------------------- databases


def test_a_command_where_no_configuration_is_found_says_so_and_creates_nothing(run: Run) -> None:
    code, _, err = run("cases", "list")
    line = one_line(err)
    assert code == ExitCode.CONFIG
    assert "no scrm.toml in" in line and str(run.folder) in line and "`scrm init`" in line
    assert list(run.folder.iterdir()) == []


@pytest.mark.parametrize(
    ("url", "code", "expected", "raised"),
    [
        ("postgresql://crm:pw@127.0.0.1:{port}/crm", 5, ["cannot connect", "crm:***@"], True),
        ("sqlite:///no/such/folder/crm.db", 5, ["the folder no/such/folder does not exist"], False),
        ("sqlite:///junk.db", 5, ["junk.db is not an SQLite database", "scrm db upgrade"], True),
        ("sqlite:///absent.db", 5, ["no database at absent.db", "scrm db upgrade"], False),
        ("mysql://crm@127.0.0.1/crm", 4, ["unsupported database 'mysql'"], True),
        ("not a url", 4, ["unsupported database"], True),
    ],
)
def test_database_problems_are_one_line_with_the_fix(
    run: Run, url: str, code: int, expected: list[str], raised: bool
) -> None:
    (run.folder / "junk.db").write_text("this is not a database\n")
    run.write(f'database_url = "{url.format(port=closed_port())}"\n')
    got, out, err = run("cases", "list")
    line = one_line(err)
    assert got == code and out == "", err
    assert all(e in line for e in expected) and "scrm.toml" in line, line
    assert "pw" not in line.replace("***", "")
    assert not (run.folder / "absent.db").exists() and not (run.folder / "no").exists()
    if raised:  # --debug: the exception itself, with its traceback
        with pytest.raises(Exception) as debug:
            run("--debug", "cases", "list")
        assert not isinstance(debug.value, SystemExit)


def test_init_leaves_nothing_behind_when_the_database_fails(run: Run) -> None:
    bad = f"postgresql://crm@127.0.0.1:{closed_port()}/crm"
    code, _, err = run("init", "--database-url", bad)
    assert code == ExitCode.DATABASE and "cannot connect" in one_line(err)
    code, _, err = run("init", "--database-url", "sqlite:///missing/crm.db")
    assert code == ExitCode.DATABASE and "missing does not exist" in one_line(err)
    code, _, err = run("init", "--database-url", "mysql://crm@127.0.0.1/crm")
    assert code == ExitCode.USAGE and "unsupported database 'mysql'" in one_line(err)
    assert list(run.folder.iterdir()) == []

    code, out, err = run("init")  # so the next init is not refused
    assert code == 0, err
    assert stat.S_IMODE((run.folder / "scrm.toml").stat().st_mode) == 0o600
    assert (run.folder / "scrm.db").exists()
    code, out, err = run("cases", "list", "--json")
    assert (code, json.loads(out)) == (0, [])
    code, _, err = run("init")
    assert code == ExitCode.ERROR and "use --force" in one_line(err)


# --------------------------------------------------------------------------- input


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["cases", "list", "--status", "opne"], ["'opne' is not one of", "'open'", "'reopened'"]),
        (["cases", "list", "--department", "nosuch"], ["departments: marketing, rnd"]),
        (["cases", "list", "--channel", "twiter"], ["channels: email, facebook", "twitter"]),
        (["interactions", "list", "--channel", "twiter"], ["channels: email", "walk_in"]),
        (["interactions", "list", "--kind", "complain"], ["'complaint'"]),
    ],
)
def test_unknown_filter_values_are_usage_errors_listing_the_valid_ones(
    cli, args: list[str], expected: list[str]
) -> None:
    err = cli(*args, expect=ExitCode.USAGE).stderr
    assert all(e in err for e in expected), err


def test_known_filter_values_filter(cli, app) -> None:
    app.ingest([message(1, channel="twitter"), message(2, channel="facebook", author="u2")])
    on_twitter = json.loads(cli("cases", "list", "--channel", "twitter", "--json").stdout)
    assert [c["channel"] for c in on_twitter] == ["twitter"]
    support = json.loads(cli("cases", "list", "--department", "support", "--json").stdout)
    assert {c["department"] for c in support} <= {"support"}


def test_an_interchange_record_on_an_unknown_channel_is_rejected_with_the_known_ones(
    cli, app, write_jsonl
) -> None:
    path = write_jsonl([message(1, channel="twiter"), message(2, channel="twitter")])
    report = json.loads(
        cli("ingest", "--format", "interactions", str(path), "--json", expect=3).stdout
    )
    assert (report["stored"], report["rejected"], report["cases_opened"]) == (1, 1, 1)
    reject = report["rejects"][0]
    assert reject["field"] == "channel" and reject["position"] == 1
    assert "'twiter'" in reject["reason"] and "twitter, walk_in" in reject["reason"]
    with app.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Case)) == 1
        assert set(s.scalars(sa.select(Case.channel))) == {"twitter"}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "give --phone, --email, --name with --address, or --customer"),
        (["--phone", "abc"], "--phone"),
        (["--phone", "+90 532 111 22 33", "--at", "yesterday"], "'--at'"),
        (["--phone", "+90 532 111 22 33", "--text", ""], "--text: String should have at least 1"),
    ],
)
def test_interactions_add_checks_its_options_before_storing_anything(
    cli, app, args: list[str], expected: str
) -> None:
    for _ in range(2):  # a retry does not pile up rejects either
        err = cli(
            "interactions", "add", "--channel", "phone", "--text", "only text", *args,
            expect=ExitCode.USAGE,
        ).stderr  # fmt: skip
        assert expected in err and "Value error" not in err, err
    with app.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Reject)) == 0
    cli(
        "interactions",
        "add",
        "--channel",
        "phone",
        "--text",
        "only text",
        "--phone",
        "+90 532 111 22 33",
    )


class AcmePlugin:
    """A third-party plugin with settings of its own."""

    class Settings(BaseModel):
        model_config = ConfigDict(extra="forbid")
        threshold: int = 3


def test_a_third_party_plugin_section_is_checked_against_its_settings_model(
    scrm_database_url: str,
) -> None:
    def open_with(plugins: dict) -> None:
        config = Config(database_url=scrm_database_url, plugins=plugins)
        pm = get_plugin_manager(load_entrypoints=False)
        pm.register(AcmePlugin(), name="acme")
        open_app(config=config, pm=pm).close()

    open_with({"acme": {"threshold": 5}})
    with pytest.raises(ConfigError, match=r"plugins\.acme\.treshold: not a setting"):
        open_with({"acme": {"treshold": 5}})
    with pytest.raises(ConfigError, match=r"plugins\.acme\.threshold: Input should be a valid"):
        open_with({"acme": {"threshold": "many"}})
    with pytest.raises(ConfigError, match=r"\[plugins\.webhooks\] .*takes no settings"):
        open_with({"webhooks": {"url": "x"}})
