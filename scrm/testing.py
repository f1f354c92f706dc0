"""Pytest fixtures for scrm and for plugin authors (``-p scrm.testing`` is loaded automatically).

Fixtures:

``scrm_database_url``
    A freshly migrated database, once per backend: SQLite always, PostgreSQL when
    ``SCRM_TEST_POSTGRES_URL`` names a server (``make test`` starts one).  Tests that use it
    run once per backend.  Under CI (``CI`` set) a missing PostgreSQL is an error, not a skip.
``app``
    An :class:`scrm.core.app.Scrm` on that database, with the built-in plugins, any plugin
    from ``scrm_plugins``, and installed channel plugins.
``register_plugin``
    Call it with an object carrying ``@hookimpl`` methods to register it for one test.
``cli``
    Run ``scrm`` commands against ``app``'s database: ``cli("cases", "list", "--json")``.
``sample_dir``
    The bundled sample data.

And :class:`LoopbackHTTPServer`, the HTTP server a test's fake of a remote API runs on.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from scrm.core import db, webhooks
from scrm.core.app import Scrm
from scrm.core.config import Config
from scrm.core.plugins import Hooks, get_plugin_manager, migration_locations

__all__ = ["CliInvoker", "LoopbackHTTPServer"]

POSTGRES_ENV = "SCRM_TEST_POSTGRES_URL"


class LoopbackHTTPServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1, on a free port, for a test's fake of a remote API (the
    tests reach no network).  Serve it from a thread: ``serve_forever``, then ``shutdown``.

    A client that hangs up on it (a stream the channel closes, a timeout the test provokes)
    is what a fake sees every day, not an error worth a traceback in the test's output.
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # reset, aborted, broken pipe
            return
        super().handle_error(request, client_address)


def _postgres_url() -> str | None:
    """The server's URL; under pytest-xdist, a database of this worker's own on it.

    Each worker (``PYTEST_XDIST_WORKER``, e.g. ``gw1``) gets ``<database>_gw1``, created on
    first use, so that workers never truncate each other's tables.
    """
    url = os.environ.get(POSTGRES_ENV) or None
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if url is None or not worker:
        return url
    base = sa.engine.make_url(url)
    name = f"{base.database or 'scrm_test'}_{worker}"
    engine = db.make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if exists is None:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _plugin_migrations() -> list[str]:
    """The branches of the installed plugins (the department modules'): the template
    databases are at every head, as ``app.upgrade()`` leaves a database."""
    return migration_locations(get_plugin_manager())


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scrm-template") / "template.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine, extra_locations=_plugin_migrations())
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _postgres_migrated() -> str:
    url = _postgres_url()
    if url is None:
        if os.environ.get("CI"):
            pytest.fail(
                f"CI runs every database test on PostgreSQL too: set {POSTGRES_ENV} (make test does)"
            )
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (make test starts a server and sets it)")
    engine = db.make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    db.upgrade(engine, extra_locations=_plugin_migrations())
    engine.dispose()
    return url


def _truncate_postgres(url: str) -> None:
    engine = db.make_engine(url)
    with engine.begin() as conn:
        tables = [
            t
            for (t,) in conn.execute(
                sa.text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                )
            )
        ]
        if tables:
            conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        if "brands" in tables:  # the row the migrations seed: every database has it
            conn.exec_driver_sql(
                "INSERT INTO brands (id, key, name, created_at) "
                "VALUES (1, 'default', 'Default', now())"
            )
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('brands', 'id'), 1)")
    engine.dispose()
    # The subscriptions went behind the applications' back: caches of them are stale (the
    # webhooks plugin would still see the last test's subscribers for a few seconds).
    webhooks.generation[0] += 1


@pytest.fixture(params=["sqlite", "postgresql"])
def scrm_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database URL; the test runs once per backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "scrm.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("_postgres_migrated")
    _truncate_postgres(url)
    return url


@pytest.fixture
def scrm_plugins() -> list[object]:
    """Override to register extra plugins in ``app`` from the start."""
    return []


@pytest.fixture
def scrm_config(scrm_database_url: str) -> Config:
    """Override to change settings; keep ``database_url``."""
    return Config(database_url=scrm_database_url)


@pytest.fixture
def app(scrm_config: Config, scrm_plugins: list[object]) -> Iterator[Scrm]:
    pm = get_plugin_manager(extra=scrm_plugins)
    application = Scrm(scrm_config, pm)
    application.upgrade()  # a no-op on the migrated template; seeds departments
    yield application
    application.close()


@pytest.fixture
def register_plugin(app: Scrm) -> Callable[[object], None]:
    def register(plugin: object) -> None:
        app.pm.register(plugin)
        app.hooks = Hooks(app.pm, app.context)

    return register


class CliInvoker:
    """Run ``scrm`` commands in-process against an application's database."""

    def __init__(self, app: Scrm) -> None:
        self.app = app

    def __call__(
        self,
        *args: str,
        input: str | bytes | None = None,
        expect: int | None = 0,
        env: Mapping[str, str] | None = None,
    ) -> Result:
        """Run ``scrm ARGS``; fail unless it exits ``expect`` (None: any status).

        :param env: environment variables for the run, e.g. ``{"COLUMNS": "80"}`` for the
            terminal width tables are laid out for.
        """
        from scrm.cli import build_cli

        cli = build_cli(self.app.pm, self.app.config)
        result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False, env=env)
        if expect is not None and result.exit_code != expect:
            raise AssertionError(
                f"scrm {' '.join(args)} exited {result.exit_code}, expected {expect}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result


@pytest.fixture
def cli(app: Scrm) -> CliInvoker:
    return CliInvoker(app)


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return Path(str(resources.files("scrm") / "data" / "sample"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "unit: quick, and needs no database, server or process (`pytest -m unit`: seconds)",
    )
    config.addinivalue_line(
        "markers",
        "integration: runs against a real database, server, browser or subprocess "
        "(given to every test using a database fixture)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test ``unit`` or ``integration`` unless it says which itself.

    A test that uses a database (``scrm_database_url``, hence ``app`` and ``cli``) is an
    integration test; a test module that starts a server or a process without one says so
    with ``pytestmark = pytest.mark.integration``.  A test marked ``slow`` is not a unit test.
    """
    for item in items:
        if any(item.get_closest_marker(m) for m in ("unit", "integration")):
            continue
        if "scrm_database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)
        elif not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.unit)


def pytest_report_header(config: Any) -> str:
    url = _postgres_url()
    return f"scrm databases: sqlite, {'postgresql' if url else 'postgresql skipped (' + POSTGRES_ENV + ' unset)'}"
