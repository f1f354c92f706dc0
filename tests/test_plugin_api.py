"""The public plugin API (``scrm.plugin``) and what each way in to scrm loads.

Import checks run in a fresh interpreter: this test process has long since imported
everything.  The layer rules themselves are import-linter contracts (``make lint``).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import scrm.plugin
from scrm.plugin import cli as plugin_cli
from scrm.plugin import db as plugin_db
from scrm.plugin import polling as plugin_polling

# Integration: starts Python processes to see what they import.
pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent

#: What an embedding application, a worker or a channel plugin must not pay for.
CLI_MODULES = ("scrm.cli", "click", "rich")
WEB_MODULES = ("scrm.server", "fastapi", "starlette", "uvicorn")


def loaded_after(code: str, tmp_path: Path, *prefixes: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; return the loaded modules under ``prefixes``."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {prefixes!r} "
        f"or m.startswith({prefixes!r}))))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("SCRM_CONFIG", "SCRM_DATABASE_URL")}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.splitlines()[-1]))


def test_every_name_of_the_public_api_resolves() -> None:
    for module in (scrm.plugin, plugin_cli, plugin_db, plugin_polling):
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"


def test_importing_the_public_api_loads_no_database_cli_or_web_code(tmp_path: Path) -> None:
    loaded = loaded_after("import scrm.plugin", tmp_path, *CLI_MODULES, *WEB_MODULES, "sqlalchemy")
    assert loaded == []


def test_the_polling_toolkit_loads_no_http_database_cli_or_web_code(tmp_path: Path) -> None:
    """A channel module imports it at its top, and ``scrm.open()`` builds the channels."""
    code = "import scrm.plugin.polling"
    loaded = loaded_after(code, tmp_path, *CLI_MODULES, *WEB_MODULES, "httpx", "sqlalchemy")
    assert loaded == []


def test_scrm_open_loads_no_cli_or_web_code(tmp_path: Path) -> None:
    """Embedding (and the worker) get the application without click, rich or the CLI."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    code = f"import scrm\nscrm.open({url!r}, migrate=True).close()"
    assert loaded_after(code, tmp_path, *CLI_MODULES, *WEB_MODULES) == []


def run_scrm(*args: str) -> str:
    """Code that runs ``scrm ARGS`` as the console script does, in the probe's interpreter."""
    return (
        f"import sys\nfrom scrm.cli import main\nsys.argv = ['scrm', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code"
    )


#: What listing cases must not load: the server, migrations, the ingest side, the
#: learned classifier, templates, HTTP clients and the channels' parsers.
NOT_FOR_LISTING = (
    *WEB_MODULES,
    "alembic",
    "sklearn",
    "jinja2",
    "httpx",
    "feedparser",
    "scrm.core.pipeline",
    "scrm.core.services",
    "scrm.core.replies",
    "scrm.core.metrics",
    "scrm.plugins.commands",
)


#: What no command needs to start: pydantic-settings (and the argparse and dotenv it
#: brought, and asyncio: SQLAlchemy imports that one too) and the statistics module.
NOT_AT_START = ("pydantic_settings", "argparse", "dotenv", "statistics")


def test_scrm_help_loads_no_database_web_migration_or_application_code(tmp_path: Path) -> None:
    """`scrm --help` lists every command, plugins' included, without importing them."""
    loaded = loaded_after(
        run_scrm("--help"), tmp_path, *NOT_FOR_LISTING, *NOT_AT_START, "sqlalchemy",
        "asyncio", "scrm.core.app", "rich",
    )  # fmt: skip
    assert loaded == []
    modules = loaded_after(run_scrm("--help"), tmp_path, "scrm", "scrm_feeds", "scrm_email")
    assert not [m for m in modules if m.startswith("scrm.cli.") and m not in (
        "scrm.cli.context", "scrm.cli.errors", "scrm.cli.lazy"
    )], "a command module was imported for --help"  # fmt: skip
    assert "scrm_feeds.cli" not in modules and "scrm_email.cli" not in modules


def test_listing_cases_loads_only_what_listing_needs(tmp_path: Path) -> None:
    """`scrm cases list` on a small database: the database layer and the board, no more."""
    (tmp_path / "scrm.toml").write_text(f'database_url = "sqlite:///{tmp_path / "scrm.db"}"\n')
    (tmp_path / "scrm.toml").chmod(0o600)
    sample = ROOT / "scrm" / "data" / "sample" / "phone.jsonl"
    loaded_after(run_scrm("db", "upgrade"), tmp_path)
    loaded_after(run_scrm("ingest", "--channel", "phone", str(sample)), tmp_path)
    loaded = loaded_after(
        run_scrm("cases", "list"), tmp_path, *NOT_FOR_LISTING, *NOT_AT_START, "scrm.cli"
    )
    assert loaded == ["scrm.cli", "scrm.cli.board", "scrm.cli.cases", "scrm.cli.context",
                      "scrm.cli.errors", "scrm.cli.lazy"]  # fmt: skip


@pytest.mark.parametrize(
    "folder",
    [
        *sorted((ROOT / "plugins").glob("*/src")),
        ROOT / "scrm" / "plugins",
    ],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_plugins_import_only_the_public_api(folder: Path) -> None:
    """Channel distributions and built-ins: ``scrm.plugin`` (and submodules), never internals."""
    wrong = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name.split(".")[0] != "scrm" or name.startswith(("scrm.plugin.", "scrm.plugins")):
                    continue
                if name != "scrm.plugin":
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    assert wrong == []


def test_every_domain_event_and_the_event_context_are_public() -> None:
    """A department plugin consumes and emits events through ``scrm.plugin`` alone."""
    from scrm.core import dispatch, events

    exported = set(scrm.plugin.__all__)
    missing = [n for n in events.__all__ if n not in ("EVENT_TYPES", "decode") and n not in exported]
    assert missing == []
    assert scrm.plugin.EventContext is dispatch.EventContext
    assert all(issubclass(e, scrm.plugin.Event) for e in events.EVENT_TYPES.values())


def test_the_layer_contracts_cover_every_channel_distribution() -> None:
    """A new distribution under plugins/ must be named in the import-linter contracts."""
    import tomllib

    linter = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    packages = sorted(
        p.name for p in (ROOT / "plugins").glob("*/src/*") if (p / "__init__.py").is_file()
    )
    assert len(packages) >= 5
    channel_contract = next(
        c for c in linter["contracts"] if "scrm_twitter" in c.get("source_modules", [])
    )
    for name in packages:
        assert name in linter["root_packages"], name
        assert name in channel_contract["source_modules"], name
