"""The console's pages and form actions.

Reads need a signed-in key of any role (like ``GET /api/v1/cases``); working a case needs a
role of :data:`~scrm.server.auth.WORKER_ROLES` (like the REST API's ``POST`` routes).  An
agent key sees the cases of its departments only: others answer 404, as in the REST API.
Every form that changes something carries the session's CSRF token, and every action is a
POST answered with a redirect (so a reload never repeats it) and a message on the next page.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from scrm.core import worklists
from scrm.core.agents import list_agents
from scrm.core.apikeys import Principal, authenticate, principal_for
from scrm.core.app import Scrm
from scrm.core.bounds import clean_text
from scrm.core.cases import allowed_from
from scrm.core.config import Config, plain_message
from scrm.core.errors import InvalidInput, ScrmError
from scrm.core.queries import NotFound
from scrm.core.schemas import Kind, Priority
from scrm.server.auth import (
    ALL_ROLES,
    WORKER_ROLES,
    check_case,
    check_interaction,
    check_role,
    get_scrm,
)
from scrm.server.console.session import ConsoleSession, Signer, csrf_ok
from scrm.server.console.timeline import Times, clocks, timeline
from scrm.server.errors import ApiError
from scrm.server.pagination import MAX_ID, IdPath

__all__ = ["ConsoleError", "ConsoleState", "refused", "router"]

router = APIRouter()
PREFIX = "/app"
#: The inbox refreshes itself this often (seconds).
POLL_SECONDS = 30
SENTIMENTS = ("negative", "neutral", "positive")

#: Sent with every console page: nothing from elsewhere, no framing, no inline script.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class ConsoleState:
    """What the console keeps for the server's life: the cookie signer and the templates."""

    def __init__(self, config: Config, templates: Path) -> None:
        self.signer = Signer(config.server)
        self.timezone = config.timezone
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )


class ConsoleError(Exception):
    """A refusal shown as a page: 401 sends to the sign-in page, others explain."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Ctx:
    """One console request: the application, the session and, once signed in, who."""

    request: Request
    app: Scrm
    state: ConsoleState
    session: ConsoleSession
    who: Principal | None = None

    @property
    def principal(self) -> Principal:
        assert self.who is not None, "a signed-in page"
        return self.who

    def times(self) -> Times:
        return Times(self.state.timezone)

    def render(self, name: str, code: int = 200, **values: Any) -> HTMLResponse:
        html = self.state.env.get_template(name).render(
            who=self.who,
            csrf=self.session.csrf,
            flash=self.session.take_flash(),
            times=self.times(),
            prefix=PREFIX,
            can_work=self.who is not None and self.who.role in WORKER_ROLES,
            **values,
        )
        return self._finish(HTMLResponse(html, status_code=code))

    def redirect(self, path: str) -> RedirectResponse:
        return self._finish(RedirectResponse(PREFIX + path, status_code=303))

    def _finish(self, response: Any) -> Any:
        response.headers.update(HEADERS)
        if self.session.changed:
            self.state.signer.save(self.request, response, self.session)
        return response

    def check_csrf(self, token: str | None) -> None:
        if not csrf_ok(self.session, token):
            raise ConsoleError(403, "the form has expired or did not come from this console")

    def allow(self, roles: tuple[str, ...]) -> None:
        try:
            check_role(self.principal, roles)
        except ApiError as exc:
            raise ConsoleError(exc.status, exc.message) from None

    def work_on(self, case_id: int, csrf: str | None) -> None:
        """Check a form that changes case ``case_id``: its token, the role, the scope."""
        self.check_csrf(csrf)
        self.allow(WORKER_ROLES)
        self.see_case(case_id)

    def see_case(self, case_id: int) -> None:
        try:
            check_case(self.app, self.principal, case_id)
        except NotFound as exc:
            raise ConsoleError(404, str(exc)) from None


def _anonymous(request: Request) -> Ctx:
    state: ConsoleState = request.app.state.console
    return Ctx(request, get_scrm(request), state, state.signer.load(request))


def _signed_in(request: Request) -> Ctx:
    ctx = _anonymous(request)
    if ctx.session.key_id is not None:
        with ctx.app.session() as s:
            ctx.who = principal_for(s, ctx.session.key_id)
    if ctx.who is None:
        raise ConsoleError(401, "sign in first")
    return ctx


Anonymous = Annotated[Ctx, Depends(_anonymous)]
SignedIn = Annotated[Ctx, Depends(_signed_in)]
Csrf = Annotated[str | None, Form(max_length=100)]
Version = Annotated[int | None, Form(ge=0, le=MAX_ID)]


def refused(request: Request, exc: ConsoleError) -> Response:
    """Show a refusal: the sign-in page for 401, an explanation otherwise."""
    ctx = _anonymous(request)
    if exc.status == 401:
        return ctx.redirect("/signin")
    if ctx.session.key_id is not None:
        with ctx.app.session() as s:  # not read-only: the lookup may note the key's use
            ctx.who = principal_for(s, ctx.session.key_id)
    return ctx.render("error.html", exc.status, status=exc.status, message=exc.message)


def _text(value: str | None, name: str) -> str | None:
    """A form value as text, empty meaning none; NUL and broken text are refused."""
    if value is None or not value.strip():
        return None
    if clean_text(value)[1]:
        raise ConsoleError(422, f"{name} must not contain NUL or invalid text")
    return value.strip()


@contextmanager
def _action(ctx: Ctx, done: str) -> Iterator[None]:
    """Run a service call; its refusal (a stale version, a transition not allowed, a bad
    value) becomes the message on the next page, as the REST API's 409/422 would."""
    try:
        yield
    except ValidationError as exc:
        ctx.session.say(plain_message(exc.errors()[0]))
    except ScrmError as exc:
        if exc.http_status >= 500:
            raise
        ctx.session.say(str(exc).splitlines()[0])
    else:
        ctx.session.say(done)


# -- signing in and out ---------------------------------------------------------------------


@router.get("")
def home(ctx: Anonymous) -> Response:
    return ctx.redirect("/inbox")


@router.get("/signin")
def signin_page(ctx: Anonymous) -> Response:
    return ctx.render("signin.html", error=None)


@router.post("/signin")
def signin(
    ctx: Anonymous, key: Annotated[str, Form(max_length=200)] = "", csrf: Csrf = None
) -> Response:
    ctx.check_csrf(csrf)
    with ctx.app.session() as s:
        who = authenticate(s, key.strip())
    if who is None:
        return ctx.render("signin.html", 401, error="That API key is unknown or revoked.")
    # A new session (new CSRF token): nothing from before signing in carries over.
    ctx.session = ConsoleSession(key_id=who.key_id, changed=True)
    ctx.session.say(f"Signed in as {who.actor} ({who.role}).")
    return ctx.redirect("/inbox")


@router.post("/signout")
def signout(ctx: Anonymous, csrf: Csrf = None) -> Response:
    ctx.check_csrf(csrf)
    response = RedirectResponse(PREFIX + "/signin", status_code=303)
    response.headers.update(HEADERS)
    ctx.state.signer.clear(ctx.request, response)
    return response


# -- the inbox ------------------------------------------------------------------------------


@router.get("/inbox")
def inbox(
    ctx: SignedIn,
    view: Annotated[str | None, Query(max_length=16)] = None,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    priority: Annotated[str | None, Query(max_length=16)] = None,
    q: Annotated[str | None, Query(max_length=worklists.MAX_SEARCH)] = None,
    partial: bool = False,
) -> Response:
    ctx.allow(ALL_ROLES)
    who = ctx.principal
    view = view or ("mine" if who.agent else "department")
    if view not in worklists.VIEWS:
        raise ConsoleError(404, f"no view {view!r}")
    filters = worklists.WorklistFilter(
        channel=channel or None, kind=kind or None, priority=priority or None, search=q or None
    )
    scope = list(who.departments) if who.role == "agent" else None
    with ctx.app.session(read_only=True) as s:
        cases = worklists.worklist(s, view, agent=who.agent, departments=scope, filters=filters)
        counts = worklists.counts(s, agent=who.agent, departments=scope, filters=filters)
    query = {
        k: v
        for k, v in (("channel", channel), ("kind", kind), ("priority", priority), ("q", q))
        if v
    }
    values: dict[str, Any] = {
        "view": view,
        "views": worklists.VIEWS,
        "counts": counts,
        "cases": cases,
        "filters": filters,
        "query": query,
        "poll": POLL_SECONDS,
    }
    if partial:
        response = ctx.render("_worklist.html", **values)
        response.headers["X-Console-Fragment"] = "worklist"
        return response
    return ctx.render(
        "inbox.html",
        channels=sorted(ctx.app.hooks.channels),
        kinds=[k.value for k in Kind],
        priorities=[p.value for p in Priority],
        **values,
    )


# -- a case ---------------------------------------------------------------------------------


@router.get("/cases/{case_id}")
def case_page(ctx: SignedIn, case_id: IdPath) -> Response:
    ctx.allow(ALL_ROLES)
    ctx.see_case(case_id)
    who = ctx.principal
    case = ctx.app.case(case_id)
    times = ctx.times()
    with ctx.app.session(read_only=True) as s:
        agents = list_agents(s)
    return ctx.render(
        "case.html",
        case=case,
        customer=ctx.app.customer(case.customer_id),
        entries=timeline(case),
        clocks=clocks(case, times),
        previews=ctx.app.workflow.previews(case_id, actor=who.actor),
        transitions=[s.value for s in allowed_from(case.status)],
        agents=agents,
        kinds=[k.value for k in Kind],
        sentiments=SENTIMENTS,
        categories=sorted(b.category for b in ctx.app.workflow.playbooks),
    )


@router.post("/cases/{case_id}/reply")
def reply(
    ctx: SignedIn,
    case_id: IdPath,
    csrf: Csrf = None,
    template: Annotated[str | None, Form(max_length=32)] = None,
    text: Annotated[str | None, Form(max_length=20_000)] = None,
    audience: Annotated[str | None, Form(max_length=16)] = None,
    version: Version = None,
) -> Response:
    ctx.work_on(case_id, csrf)
    public = {"public": True, "private": False}.get(audience or "")
    body, name = _text(text, "text"), _text(template, "template")
    with _action(ctx, f"Reply queued on case {case_id}; it is sent on the next delivery run."):
        if (body is None) == (name is None):
            raise InvalidInput("choose a template or write a text")
        ctx.app.workflow.reply(
            case_id,
            actor=ctx.principal.actor,
            text=body,
            template=name,
            public=public,
            expected_version=version,
        )
    return ctx.redirect(f"/cases/{case_id}")


@router.post("/cases/{case_id}/transition")
def transition(
    ctx: SignedIn,
    case_id: IdPath,
    to: Annotated[str, Form(max_length=32)],
    csrf: Csrf = None,
    note: Annotated[str | None, Form(max_length=2000)] = None,
    version: Version = None,
) -> Response:
    ctx.work_on(case_id, csrf)
    with _action(ctx, f"Case {case_id} moved to {to}."):
        ctx.app.workflow.transition(
            case_id,
            _text(to, "to") or "",
            actor=ctx.principal.actor,
            note=_text(note, "note"),
            expected_version=version,
        )
    return ctx.redirect(f"/cases/{case_id}")


@router.post("/cases/{case_id}/assign")
def assign(
    ctx: SignedIn,
    case_id: IdPath,
    agent: Annotated[str, Form(max_length=64)],
    csrf: Csrf = None,
    version: Version = None,
) -> Response:
    ctx.work_on(case_id, csrf)
    with _action(ctx, f"Case {case_id} assigned to {agent}."):
        ctx.app.workflow.assign(
            case_id,
            _text(agent, "agent") or "",
            actor=ctx.principal.actor,
            expected_version=version,
        )
    return ctx.redirect(f"/cases/{case_id}")


@router.post("/interactions/{interaction_id}/labels")
def relabel(
    ctx: SignedIn,
    interaction_id: IdPath,
    csrf: Csrf = None,
    kind: Annotated[str | None, Form(max_length=16)] = None,
    category: Annotated[str | None, Form(max_length=64)] = None,
    sentiment: Annotated[str | None, Form(max_length=16)] = None,
    language: Annotated[str | None, Form(max_length=16)] = None,
) -> Response:
    """Correct a message's classification (what ``scrm label`` and the REST API do)."""
    ctx.check_csrf(csrf)
    ctx.allow(WORKER_ROLES)
    try:
        check_interaction(ctx.app, ctx.principal, interaction_id)
    except NotFound as exc:
        raise ConsoleError(404, str(exc)) from None
    before = ctx.app.interaction(interaction_id)
    given = {
        "kind": _text(kind, "kind"),
        "category": _text(category, "category"),
        "sentiment": _text(sentiment, "sentiment"),
        "language": _text(language, "language"),
    }
    fix = {k: v for k, v in given.items() if v is not None and v != getattr(before, k)}
    with _action(ctx, f"Message {interaction_id} relabelled: "
                 + ", ".join(f"{k}={v}" for k, v in fix.items())):  # fmt: skip
        if not fix:
            raise InvalidInput("nothing to correct: the labels are as given")
        ctx.app.relabel(interaction_id, ctx.principal.actor, **fix)
    case_id = ctx.app.interaction(interaction_id).case_id or before.case_id
    return ctx.redirect(f"/cases/{case_id}" if case_id else "/inbox")
