"""Reshaping conversations from the case page: merge a case into another, move a message
to another case or split it out into a case of its own, link a case to an incident and
answer the whole incident.  The same calls as ``scrm case merge``, ``scrm case move`` and
``scrm reply --incident`` (:func:`scrm.core.services.cases.merge` and ``move_message``,
:func:`scrm.core.services.outbox.reply_incident`), so they
leave the same case events; both cases must be ones the agent may work (a case of another
department answers 404, as everywhere in the console).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from scrm.core.errors import N_
from scrm.core.queries import NotFound, get_incident
from scrm.core.services import cases, outbox
from scrm.server.auth import WORKER_ROLES, check_case, check_interaction
from scrm.server.console.pages import ConsoleError, Csrf, Reply, SignedIn, _action, _text
from scrm.server.pagination import MAX_ID, IdPath

__all__ = ["router"]

router = APIRouter()
CaseId = Annotated[int, Form(ge=1, le=MAX_ID)]


@router.post("/cases/{case_id}/merge")
def merge_case(ctx: SignedIn, case_id: IdPath, into: CaseId, csrf: Csrf = None) -> Response:
    """Merge this case into case ``into``: its messages and promises move, it closes."""
    ctx.work_on(case_id, csrf)
    ctx.see_case(into)
    landed: int | None = case_id
    with _action(ctx, ctx.t("Case %(id)s merged into case %(into)s.", id=case_id, into=into)):
        landed = cases.merge(ctx.app, case_id, into, actor=ctx.principal.actor).id
    return ctx.redirect(f"/cases/{landed}")


@router.post("/cases/{case_id}/incident")
def link_incident(
    ctx: SignedIn,
    case_id: IdPath,
    incident: Annotated[str, Form(min_length=1, max_length=255)],
    csrf: Csrf = None,
) -> Response:
    """Link this case to an incident by name, created if new (``scrm case link``)."""
    ctx.work_on(case_id, csrf)
    name = _text(incident, "incident")
    if name is None:
        raise ConsoleError(422, N_("name the incident"))
    with _action(ctx, ctx.t("Case %(id)s linked to incident %(name)s.", id=case_id, name=name)):
        cases.link(ctx.app, [case_id], name, actor=ctx.principal.actor)
    return ctx.redirect(f"/cases/{case_id}")


@router.post("/cases/{case_id}/incident/reply")
def reply_incident(
    ctx: SignedIn,
    case_id: IdPath,
    form: Reply,
    csrf: Csrf = None,
) -> Response:
    """Send one reply to every open case of this case's incident (``scrm reply --incident``):
    each case gets it filled for its own customer, and the incident an ``incident.reply``
    audit entry.  Every one of those cases must be one the agent may work."""
    ctx.work_on(case_id, csrf)
    incident_id = ctx.app.case(case_id).incident_id
    if incident_id is None:
        raise ConsoleError(409, N_("case %(id)s is part of no incident"), id=case_id)
    with ctx.app.session(read_only=True) as s:
        incident = get_incident(s, incident_id)
    hidden = 0
    for other in incident.open_case_ids:
        try:
            check_case(ctx.app, ctx.principal, other)
        except NotFound:
            hidden += 1
    if hidden:
        raise ConsoleError(403, N_(
            "incident %(name)s has %(count)s open cases outside your departments; "
            "an administrator answers it"), name=incident.name, count=hidden)  # fmt: skip
    body, name, public = form.values()
    queued = 0
    with _action(ctx, ""):
        queued = len(outbox.reply_incident(
            ctx.app, incident.name, actor=ctx.principal.actor, text=body, template=name,
            public=public,
        ))  # fmt: skip
        ctx.session.say(ctx.t(
            "Replies queued on %(count)s open cases of incident %(name)s; they are sent on the "
            "next delivery run.", count=queued, name=incident.name))  # fmt: skip
    return ctx.redirect(f"/cases/{case_id}")


@router.post("/interactions/{interaction_id}/move")
def move_message(
    ctx: SignedIn,
    interaction_id: IdPath,
    csrf: Csrf = None,
    to: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
) -> Response:
    """Move a message to case ``to``, or (without ``to``) split it out into a new case."""
    ctx.check_csrf(csrf)
    ctx.allow(WORKER_ROLES)
    try:
        check_interaction(ctx.app, ctx.principal, interaction_id)
    except NotFound as exc:
        raise ConsoleError.of(exc) from None
    if to is not None:
        ctx.see_case(to)
    landed: int | None = ctx.app.interaction(interaction_id).case_id
    done = (
        ctx.t("Message %(id)s moved to case %(to)s.", id=interaction_id, to=to)
        if to is not None
        else ctx.t("Message %(id)s split out into a case of its own.", id=interaction_id)
    )
    with _action(ctx, done):
        landed = cases.move_message(ctx.app, interaction_id, to, actor=ctx.principal.actor).id
    return ctx.redirect(f"/cases/{landed}" if landed else "/inbox")
