"""Signing in and out of the console (an API key, or an agent's password), and the choice
of the interface language.  Signing in starts a new session with a new CSRF token: nothing
from before carries over but the language.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from scrm.core import passwords, signin_limit
from scrm.core.apikeys import authenticate
from scrm.core.db import utcnow
from scrm.core.errors import N_
from scrm.server.console import i18n
from scrm.server.console.pages import HEADERS, PREFIX, Anonymous, ConsoleError, Csrf, Ctx
from scrm.server.console.session import ConsoleSession

__all__ = ["router"]

router = APIRouter()


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
        return ctx.render("signin.html", 401, error=ctx.t("That API key is unknown or revoked."))
    # A new session (new CSRF token): nothing from before signing in carries over.
    ctx.session = ConsoleSession(key_id=who.key_id, language=ctx.session.language, changed=True)
    ctx.session.say(ctx.t("Signed in as %(actor)s (%(role)s).", actor=who.actor, role=who.role))
    return ctx.redirect("/inbox")


@router.post("/signin/password")
def signin_password(
    ctx: Anonymous,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=passwords.MAX_LENGTH)] = "",
    csrf: Csrf = None,
) -> Response:
    """Sign in as an agent with the password an administrator set (``scrm agents password``).

    Failed attempts are limited per username and per client address
    (:mod:`scrm.core.signin_limit`): past the limit the answer is 429, whatever the password.
    """
    ctx.check_csrf(csrf)
    name, now = username.strip(), utcnow()
    address = ctx.request.client.host if ctx.request.client else "unknown"
    with ctx.app.session(read_only=True) as s:
        until = signin_limit.blocked_until(s, name, address, now)
    if until is not None:
        return _too_many(ctx, until, now)
    with ctx.app.session(read_only=True) as s:
        agent = passwords.check_agent_password(s, name, password)
        stored = agent.password_hash if agent is not None else None
        agent_id = agent.id if agent is not None else None
    with ctx.app.session() as s:
        if agent_id is None or stored is None:
            signin_limit.record_failure(s, name, address, now)
        else:
            signin_limit.forget(s, name)
    if agent_id is None or stored is None:
        return ctx.render("signin.html", 401, error=ctx.t("That username and password do not match."))
    ctx.session = ConsoleSession(
        agent_id=agent_id,
        password=passwords.fingerprint(stored),
        language=ctx.session.language,
        changed=True,
    )
    ctx.session.say(ctx.t("Signed in as %(actor)s (%(role)s).", actor=name, role="agent"))
    return ctx.redirect("/inbox")


def _too_many(ctx: Ctx, until: datetime, now: datetime) -> Response:
    """The refusal past the limit: when to try again, in words and in ``Retry-After``."""
    seconds = max(1, math.ceil((until - now).total_seconds()))
    times = ctx.times()
    error = ctx.t(
        "Too many failed sign-ins. Try again after %(time)s (%(zone)s), in %(minutes)s minutes.",
        time=times.local(until),
        zone=times.name,
        minutes=math.ceil(seconds / 60),
    )
    response = ctx.render("signin.html", 429, error=error)
    response.headers["Retry-After"] = str(seconds)
    return response


@router.post("/signout")
def signout(ctx: Anonymous, csrf: Csrf = None) -> Response:
    ctx.check_csrf(csrf)
    response = RedirectResponse(PREFIX + "/signin", status_code=303)
    response.headers.update(HEADERS)
    ctx.state.signer.clear(ctx.request, response)
    return response


@router.post("/language")
def language(
    ctx: Anonymous, lang: Annotated[str, Form(max_length=8)] = "", csrf: Csrf = None
) -> Response:
    """Switch the interface language for this session, and go back to the page."""
    ctx.check_csrf(csrf)
    if lang not in i18n.LANGUAGES:
        raise ConsoleError(422, N_("the console speaks %(languages)s"), languages=", ".join(i18n.LANGUAGES))
    ctx.session.language = lang
    ctx.session.changed = True
    return ctx.redirect(ctx.back())
