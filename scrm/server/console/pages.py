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
from urllib.parse import urlsplit

import jinja2
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from scrm.core import queries, worklists
from scrm.core.agents import agent_timezone, list_agents
from scrm.core.apikeys import Principal, principal_for
from scrm.core.app import Scrm
from scrm.core.bounds import clean_text
from scrm.core.cases import allowed_from
from scrm.core.channel import DEFAULT_ACCOUNT
from scrm.core.config import Config, plain_message
from scrm.core.errors import N_, Forbidden, InvalidInput, ScrmError
from scrm.core.passwords import agent_principal
from scrm.core.queries import NotFound
from scrm.core.schemas import Kind, Priority
from scrm.core.services import cases as case_service
from scrm.core.services import outbox
from scrm.server.auth import (
    ALL_ROLES,
    WORKER_ROLES,
    check_case,
    check_interaction,
    check_role,
    server_app,
)
from scrm.server.console import i18n
from scrm.server.console.session import ConsoleSession, Signer, csrf_ok
from scrm.server.console.timeline import Times, clocks, timeline
from scrm.server.pagination import MAX_ID, IdPath

__all__ = ["ConsoleError", "ConsoleState", "refused", "router"]

router = APIRouter()
PREFIX = "/app"
#: The inbox refreshes itself this often (seconds).
POLL_SECONDS = 30
SENTIMENTS = ("negative", "neutral", "positive")
#: The languages offered by the inbox filter (the classifier's; a case may have none).
LANGUAGES = ("tr", "en")

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
    """What the console keeps for the server's life: the cookie signer, and the templates in
    each interface language (one Jinja2 environment per language, its catalogue installed)."""

    def __init__(self, config: Config, templates: Path) -> None:
        self.signer = Signer(config.server)
        self.timezone = config.timezone
        self.envs: dict[str, jinja2.Environment] = {}
        for lang in i18n.LANGUAGES:
            env = jinja2.Environment(
                loader=jinja2.FileSystemLoader(templates),
                auto_reload=False,  # the templates ship with the package: compiled once
                autoescape=True,
                undefined=jinja2.StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
                extensions=["jinja2.ext.i18n"],
            )
            env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
            self.envs[lang] = env


class ConsoleError(Exception):
    """A refusal shown as a page: 401 sends to the sign-in page, others explain.

    ``message`` is an English template marked with ``N_``, translated when shown, with
    ``params`` put in (as a :class:`~scrm.core.errors.ScrmError`'s).
    """

    def __init__(self, status: int, message: str, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.status, self.message, self.params = status, message, params

    @classmethod
    def of(cls, exc: ScrmError) -> ConsoleError:
        """A service's refusal as a page, with its HTTP status."""
        return cls(exc.http_status, exc.message, **exc.params)


@dataclass
class Ctx:
    """One console request: the application, the session and, once signed in, who."""

    request: Request
    app: Scrm
    state: ConsoleState
    session: ConsoleSession
    who: Principal | None = None
    zone: str | None = None
    """The signed-in agent's own time zone, if they chose one."""

    @property
    def principal(self) -> Principal:
        assert self.who is not None, "a signed-in page"
        return self.who

    @property
    def lang(self) -> str:
        """The interface language: the agent's choice, else the browser's, else English."""
        if self.session.language in i18n.LANGUAGES:
            return self.session.language
        return i18n.negotiate(
            self.request.headers.get("accept-language", "")
        )

    @property
    def brand(self) -> int | None:
        """The brand the pages are limited to: the caller's own, else the one an agency-level
        caller picked (a brand that no longer exists: none), else None, every brand."""
        if self.principal.brand_id is not None:
            return self.principal.brand_id
        picked = self.session.brand
        return picked if picked in self.app.brands.ids.values() else None

    def brand_menu(self) -> tuple[list[tuple[str, str]], str | None] | None:
        """The header's brand switcher, (key and name of each brand, the key picked), for a
        signed-in caller of no brand when there are several brands; else None."""
        if self.who is None or self.who.brand_id is not None or len(self.app.brands.ids) < 2:
            return None
        named = self.app.config.brands
        choices = [
            (key, named[key].name if key in named else key) for key in sorted(self.app.brands.ids)
        ]
        return choices, self.app.brands.key_of(self.brand)

    def t(self, message: str, **values: object) -> str:
        """``message`` in the interface language, with ``values`` put in (``%(name)s``)."""
        text = i18n.translations(self.lang).gettext(message)
        return text % values if values else text

    def refusal(self, exc: ScrmError | ConsoleError) -> str:
        """A refusal in the interface language: its template translated, its values put in."""
        return self.t(exc.message, **exc.params)

    def times(self) -> Times:
        """Times as this person reads them: in their own zone, else the configured one."""
        zone = self.zone or self.state.timezone
        return Times(zone, gettext=i18n.translations(self.lang).gettext)

    def render(self, name: str, code: int = 200, **values: Any) -> HTMLResponse:
        html = self.state.envs[self.lang].get_template(name).render(
            lang=self.lang,
            languages_ui=i18n.LANGUAGES.items(),
            who=self.who,
            csrf=self.session.csrf,
            flash=self.session.take_flash(),
            times=self.times(),
            prefix=PREFIX,
            can_work=self.who is not None and self.who.role in WORKER_ROLES,
            brand_menu=self.brand_menu(),
            **values,
        )
        return self._finish(HTMLResponse(html, status_code=code))

    def back(self) -> str:
        """The console page the request came from (its ``Referer``), else the inbox."""
        came = urlsplit(self.request.headers.get("referer", ""))
        if came.netloc != self.request.url.netloc or not came.path.startswith(PREFIX + "/"):
            return "/inbox"
        return came.path.removeprefix(PREFIX) + (f"?{came.query}" if came.query else "")

    def redirect(self, path: str) -> RedirectResponse:
        return self._finish(RedirectResponse(PREFIX + path, status_code=303))

    def _finish(self, response: Any) -> Any:
        response.headers.update(HEADERS)
        if self.session.changed:
            self.state.signer.save(self.request, response, self.session)
        return response

    def check_csrf(self, token: str | None) -> None:
        if not csrf_ok(self.session, token):
            raise ConsoleError(403, N_("the form has expired or did not come from this console"))

    def allow(self, roles: tuple[str, ...]) -> None:
        try:
            check_role(self.principal, roles)
        except Forbidden as exc:
            raise ConsoleError.of(exc) from None

    def work_on(self, case_id: int, csrf: str | None) -> None:
        """Check a form that changes case ``case_id``: its token, the role, the scope."""
        self.check_csrf(csrf)
        self.allow(WORKER_ROLES)
        self.see_case(case_id)

    def see_case(self, case_id: int) -> None:
        try:
            check_case(self.app, self.principal, case_id)
        except NotFound as exc:
            raise ConsoleError.of(exc) from None


def _anonymous(request: Request) -> Ctx:
    state: ConsoleState = request.app.state.console
    return Ctx(request, server_app(request), state, state.signer.load(request))


def _who(ctx: Ctx) -> Principal | None:
    """The session's principal: its API key's, or its password-signed agent's."""
    if ctx.session.key_id is not None:
        with ctx.app.session() as s:  # not read-only: the lookup may note the key's use
            return principal_for(s, ctx.session.key_id)
    if ctx.session.agent_id is not None:
        with ctx.app.session(read_only=True) as s:
            return agent_principal(s, ctx.session.agent_id, ctx.session.password)
    return None


def _zone(ctx: Ctx) -> str | None:
    """The time zone the signed-in agent chose (None: none, or no agent)."""
    if ctx.who is None or ctx.who.agent is None:
        return None
    with ctx.app.session(read_only=True) as s:
        return agent_timezone(s, ctx.who.agent)


def _signed_in(request: Request) -> Ctx:
    ctx = _anonymous(request)
    ctx.who = _who(ctx)
    if ctx.who is None:
        raise ConsoleError(401, N_("sign in first"))
    # Everything a signed-in page reads or changes is limited to the caller's brand, or for
    # the agency's people to the brand they picked in the header (:mod:`.settings`).
    ctx.app = ctx.app.for_brand(ctx.brand)
    ctx.zone = _zone(ctx)
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
    ctx.who = _who(ctx)
    ctx.zone = _zone(ctx)
    message = ctx.refusal(exc)
    return ctx.render("error.html", exc.status, status=exc.status, message=message)


def _text(value: str | None, name: str) -> str | None:
    """A form value as text, empty meaning none; NUL and broken text are refused."""
    if value is None or not value.strip():
        return None
    if clean_text(value)[1]:
        raise ConsoleError(422, N_("%(field)s must not contain NUL or invalid text"), field=name)
    return value.strip()


@contextmanager
def _action(ctx: Ctx, done: str) -> Iterator[None]:
    """Run a service call; its refusal (a stale version, a transition not allowed, a bad
    value) becomes the message on the next page, as the REST API's 409/422 would."""
    try:
        yield
    except ValidationError as exc:
        first = exc.errors()[0]
        cause = first.get("ctx", {}).get("error")  # a validator's own error, if it is ours
        ctx.session.say(ctx.refusal(cause) if isinstance(cause, ScrmError) else plain_message(first))
    except ScrmError as exc:
        if exc.http_status >= 500:
            raise
        ctx.session.say(ctx.refusal(exc).splitlines()[0])
    else:
        if done:  # empty: the block said what happened itself
            ctx.session.say(done)


# -- the inbox ------------------------------------------------------------------------------


@router.get("/inbox")
def inbox(
    ctx: SignedIn,
    view: Annotated[str | None, Query(max_length=16)] = None,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    priority: Annotated[str | None, Query(max_length=16)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    language: Annotated[str | None, Query(max_length=16)] = None,
    q: Annotated[str | None, Query(max_length=worklists.MAX_SEARCH)] = None,
    after: Annotated[str | None, Query(max_length=64)] = None,
    before: Annotated[str | None, Query(max_length=64)] = None,
    partial: bool = False,
) -> Response:
    ctx.allow(ALL_ROLES)
    who = ctx.principal
    view = view or ("mine" if who.agent else "department")
    if view not in worklists.VIEWS:
        raise ConsoleError(404, N_("no view %(name)r"), name=view)
    picked = {"channel": channel, "kind": kind, "priority": priority, "category": category,
              "language": language}  # fmt: skip
    filters = worklists.WorklistFilter(search=q or None, **{k: v or None for k, v in picked.items()})
    scope = list(who.departments) if who.role == "agent" else None
    try:
        start = worklists.Position.parse(after) if after else None
        end = worklists.Position.parse(before) if before and not start else None
    except InvalidInput as exc:
        raise ConsoleError(422, str(exc)) from None
    with ctx.app.session(read_only=True) as s:
        counts = worklists.counts(s, agent=who.agent, departments=scope, filters=filters)
        found = worklists.page(s, view, agent=who.agent, departments=scope, filters=filters,
                               size=worklists.PAGE_SIZE, after=start, before=end,
                               total=counts[view])  # fmt: skip
    query = {k: v for k, v in {**picked, "q": q}.items() if v}
    values: dict[str, Any] = {
        "view": view,
        "views": worklists.VIEWS,
        "counts": counts,
        "cases": found.rows,
        "paged": found,
        "first": start is None and end is None,
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
        categories=ctx.app.categories,
        languages=LANGUAGES,
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
        incident = queries.get_incident(s, case.incident_id) if case.incident_id else None
        brand = queries.case_brand(s, case_id)
    previews = outbox.previews(ctx.app, case_id, actor=who.actor)
    return ctx.render(
        "case.html",
        incident=incident,
        case=case,
        customer=ctx.app.customer(case.customer_id),
        entries=timeline(case),
        clocks=clocks(case, times),
        previews=previews,
        transitions=[s.value for s in allowed_from(case.status)],
        agents=agents,
        kinds=[k.value for k in Kind],
        sentiments=SENTIMENTS,
        categories=ctx.app.playbooks_of(brand).categories,
        accounts=_account_labels(ctx.app, case, previews),
    )


def _account_labels(
    app: Scrm, case: queries.CaseDetail, previews: outbox.ReplyPreviews
) -> dict[tuple[str, str], str]:
    """The label each brand account of the case's messages and replies, and the one a reply
    would leave from, is configured under (``[channels.<name>.accounts.<label>]``), by channel
    and account; an account of a single-account section, or one no channel configures now,
    is shown as it is written."""
    labels: dict[tuple[str, str], str] = {}
    used = {(i.channel, i.account) for i in case.interactions if i.account is not None}
    used |= {(r.channel, r.account) for r in case.replies if r.account is not None}
    if previews.channel is not None and previews.account is not None:
        used.add((previews.channel, previews.account))
    for channel, account in used:
        try:
            speaker = app.channel(channel).for_account(account)
        except ScrmError:  # a channel no plugin provides any more
            continue
        if speaker is not None and speaker.account_label != DEFAULT_ACCOUNT:
            labels[(channel, account)] = speaker.account_label
    return labels


@dataclass
class ReplyForm:
    """The reply box of a case page: a playbook template or your own words, and to whom."""

    template: str | None
    text: str | None
    audience: str | None

    def values(self) -> tuple[str | None, str | None, bool | None]:
        """The text, the template, and public (True), private (False) or as the customer wrote."""
        public = {"public": True, "private": False}.get(self.audience or "")
        return _text(self.text, "text"), _text(self.template, "template"), public


def _reply_form(
    template: Annotated[str | None, Form(max_length=32)] = None,
    text: Annotated[str | None, Form(max_length=20_000)] = None,
    audience: Annotated[str | None, Form(max_length=16)] = None,
) -> ReplyForm:
    return ReplyForm(template, text, audience)


Reply = Annotated[ReplyForm, Depends(_reply_form)]


@router.post("/cases/{case_id}/reply")
def reply(
    ctx: SignedIn, case_id: IdPath, form: Reply, csrf: Csrf = None, version: Version = None
) -> Response:
    ctx.work_on(case_id, csrf)
    body, name, public = form.values()
    done = ctx.t("Reply queued on case %(id)s; it is sent on the next delivery run.", id=case_id)
    with _action(ctx, done):
        outbox.reply(
            ctx.app,
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
    with _action(ctx, ctx.t("Case %(id)s moved to %(to)s.", id=case_id, to=to)):
        case_service.transition(
            ctx.app,
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
    with _action(ctx, ctx.t("Case %(id)s assigned to %(agent)s.", id=case_id, agent=agent)):
        case_service.assign(
            ctx.app,
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
        raise ConsoleError.of(exc) from None
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
            raise InvalidInput(N_("nothing to correct: the labels are as given"))
        ctx.app.relabel(interaction_id, ctx.principal.actor, **fix)
    case_id = ctx.app.interaction(interaction_id).case_id or before.case_id
    return ctx.redirect(f"/cases/{case_id}" if case_id else "/inbox")
