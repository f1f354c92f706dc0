"""Reshaping conversations from the case page: merge a case into another, and move a message
to another case or split it out into a case of its own.  The same calls as ``scrm case merge``
and ``scrm case move`` (:func:`scrm.core.services.cases.merge` and ``move_message``), so they
leave the same case events; both cases must be ones the agent may work (a case of another
department answers 404, as everywhere in the console).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from scrm.core.queries import NotFound
from scrm.core.services import cases
from scrm.server.auth import WORKER_ROLES, check_interaction
from scrm.server.console.pages import ConsoleError, Csrf, SignedIn, _action, _text
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
        raise ConsoleError(422, ctx.t("name the incident"))
    with _action(ctx, ctx.t("Case %(id)s linked to incident %(name)s.", id=case_id, name=name)):
        cases.link(ctx.app, [case_id], name, actor=ctx.principal.actor)
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
        raise ConsoleError(404, str(exc)) from None
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
