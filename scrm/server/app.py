"""The HTTP application: ``create_app(scrm_app)`` builds the FastAPI app ``scrm serve`` runs.

Layout: ``/healthz`` and ``/readyz`` (no key); ``/webhooks/<channel>`` from channel plugins
through the ``register_routes`` hook (they verify the platform's signature); everything
else under ``/api/v1``, each route behind an API key with a role; the agent console under
``/app`` (:mod:`scrm.server.console`, signed in with an API key).  The OpenAPI schema
(``/openapi.json``) and the interactive docs (``/docs``: Swagger UI, ``/redoc``) need no
key; their scripts and styles are served from ``/docs/static`` (the fastapi-offline
package), never from a CDN.  While serving, a background loop delivers outgoing webhooks
and picks up inbox rows a crash left pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from scrm import __version__
from scrm.core import inbox, webhooks
from scrm.core.app import Scrm
from scrm.server import console
from scrm.server.errors import RESPONSES, WEBHOOK_RESPONSES, install_error_handlers
from scrm.server.guard import BodyLimit, InputGuard
from scrm.server.requestlog import RequestLog
from scrm.server.routes import admin, alerts, cases, customers, health, interactions, reports

__all__ = ["API_PREFIX", "OPENAPI_URL", "create_app", "iter_routes"]

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
OPENAPI_URL = "/openapi.json"
DOCS_STATIC = "/docs/static"
#: An inbox row still pending this long after it arrived was missed (crash): process it.
STALE_INBOX = timedelta(seconds=60)


def _tick(app: Scrm) -> None:
    """One round of background work; failures are logged, the loop goes on."""
    try:
        report = webhooks.deliver(app.Session, app.config.server)
        if report.errors:
            log.warning("webhook delivery: %s", "; ".join(report.errors[:5]))
        inbox.process_pending(app, older_than=STALE_INBOX)
    except Exception:
        log.exception("background delivery round failed")


def create_app(scrm_app: Scrm, *, background: bool = True) -> FastAPI:
    """Build the HTTP application on ``scrm_app`` (its database, plugins and configuration).

    :param background: run the delivery loop while served (every
        ``server.deliver_interval`` seconds; 0 turns it off).
    """
    interval = scrm_app.config.server.deliver_interval

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = None
        if background and interval > 0:

            async def loop() -> None:
                while True:
                    await asyncio.to_thread(_tick, scrm_app)
                    await asyncio.sleep(interval)

            task = asyncio.create_task(loop())
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(
        title="scrm",
        version=__version__,
        description="Social CRM: customers, interactions and cases over REST; channel webhooks.",
        openapi_url=None,  # served by _add_docs, as an APIRoute like every other route
        docs_url=None,  # FastAPI's own pages load Swagger UI and ReDoc from a CDN
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        lifespan=lifespan,
    )
    app.state.scrm = scrm_app
    install_error_handlers(app)
    # Added last, so outermost: the guard then sees the whole body as one message.
    app.add_middleware(
        InputGuard, api_prefix=API_PREFIX, ingest_paths=(("POST", f"{API_PREFIX}/interactions"),)
    )
    app.add_middleware(BodyLimit, max_bytes=scrm_app.config.server.max_body_bytes)
    app.add_middleware(RequestLog, api_prefix=API_PREFIX)  # outermost: sees every answer
    _add_docs(app)

    app.include_router(health.router)
    api = APIRouter(prefix=API_PREFIX, responses=RESPONSES)
    for module in (customers, interactions, cases, reports, alerts, admin):
        api.include_router(module.router)
    app.include_router(api)

    plugin_routes = APIRouter(tags=["webhooks"], responses=WEBHOOK_RESPONSES)
    scrm_app.pm.hook.register_routes(router=plugin_routes)
    for route in plugin_routes.routes:
        path = str(getattr(route, "path", ""))
        if path.startswith((API_PREFIX, "/docs", "/redoc", console.PREFIX)) or path in (
            "/healthz",
            "/readyz",
            OPENAPI_URL,
        ):
            raise RuntimeError(f"a plugin route may not take {path}: it is scrm's own")
    app.include_router(plugin_routes)
    console.mount(app, scrm_app)
    _check_roles(app)
    return app


def _add_docs(app: FastAPI) -> None:
    """Serve Swagger UI at /docs and ReDoc at /redoc with their files from this server."""
    static = Path(str(resources.files("fastapi_offline") / "static"))
    app.mount(DOCS_STATIC, StaticFiles(directory=static), name="docs-static")

    @app.get(OPENAPI_URL, include_in_schema=False)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title=f"{app.title} API",
            swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_STATIC}/favicon.png",
            # Swagger UI would otherwise send the schema to validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=OPENAPI_URL,
            title=f"{app.title} API",
            redoc_js_url=f"{DOCS_STATIC}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_STATIC}/favicon.png",
            with_google_fonts=False,
        )


def iter_routes(app: FastAPI) -> Iterator[tuple[str, str, Any]]:
    """Yield ``(method, path, route)`` of every HTTP route, included routers flattened."""
    try:  # FastAPI >= 0.160 keeps included routers nested in app.routes
        from fastapi.routing import iter_route_contexts

        routes: list[Any] = list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - older FastAPI: app.routes is flat
        routes = list(app.routes)
    for route in routes:
        for method in sorted(getattr(route, "methods", None) or ()):
            if method not in ("HEAD", "OPTIONS"):
                yield method, route.path, route


def _check_roles(app: FastAPI) -> None:
    """Refuse to build an app with an API route that checks no role (a programming error)."""
    for method, path, route in iter_routes(app):
        if path.startswith(API_PREFIX):
            calls = [d.call for d in route.dependant.dependencies]
            if not any(hasattr(c, "roles") for c in calls):
                raise RuntimeError(f"{method} {path} has no role check (use require(...))")
