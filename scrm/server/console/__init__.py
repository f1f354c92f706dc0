"""The agent console: a server-rendered web inbox under ``/app`` in ``scrm serve``.

Jinja2 templates and the static files ship in this package; nothing is loaded from
elsewhere, and every page works without JavaScript (one small script refreshes the inbox
and the alert count every 30 seconds and adds keyboard shortcuts).  The console is a face like
the CLI and the REST API: it signs an agent in with an API key or a password, checks roles with the REST API's own :func:`~scrm.server.auth.check_role`
and :func:`~scrm.server.auth.check_case`, and calls the same services (:mod:`scrm.core.services`,
``app.relabel``, :mod:`scrm.core.worklists`), so every action leaves the same case events
and audit entries.  See docs/console.md.

The pages by module: :mod:`.signin` (signing in and out, the language), :mod:`.pages` (the
request context, the inbox, a case), :mod:`.casework` (case merges, moving and splitting
messages, incidents and their replies), :mod:`.customers`, :mod:`.alerts`, :mod:`.reports`,
:mod:`.settings` (the agent's time zone); :mod:`.i18n` holds the languages and catalogues
(the services' refusals are templates in the same catalogue), :mod:`.session` the cookie,
:mod:`.timeline` what a case page shows.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from scrm.core.app import Scrm
from scrm.server.console import alerts, casework, customers, reports, settings, signin
from scrm.server.console.pages import ConsoleError, ConsoleState, refused, router

__all__ = ["PREFIX", "mount"]

PREFIX = "/app"


def mount(app: FastAPI, scrm_app: Scrm) -> None:
    """Add the console's pages and static files to ``app``."""
    here = Path(str(resources.files("scrm.server.console")))
    app.state.console = ConsoleState(scrm_app.config, here / "templates")
    app.mount(f"{PREFIX}/static", StaticFiles(directory=here / "static"), name="console-static")
    for part in (signin.router, router, customers.router, casework.router, alerts.router,
                 reports.router, settings.router):  # fmt: skip
        app.include_router(part, prefix=PREFIX, include_in_schema=False)
    app.add_exception_handler(ConsoleError, refused)  # type: ignore[arg-type]
