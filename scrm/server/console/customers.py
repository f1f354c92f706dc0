"""The console's customer view: one person across channels, their cases, CSAT, the records
that look like the same person (with the evidence) and the merges, as the REST API's
``/api/v1/customers`` does them: any role reads, only ``admin`` merges and unmerges, through
:func:`scrm.core.services.customers.merge` and ``unmerge``, the same service and audit entries.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from scrm.core import customers as customer_ops
from scrm.core import queries
from scrm.core.queries import NotFound
from scrm.core.services import customers as customer_service
from scrm.server.auth import ALL_ROLES, scope
from scrm.server.console.pages import ConsoleError, Csrf, Ctx, SignedIn, _action, _text
from scrm.server.pagination import MAX_ID, IdPath

__all__ = ["ADMIN", "router"]

router = APIRouter()
#: Who may merge and unmerge customers (the REST API's ``AdminKey``).
ADMIN = ("admin",)
#: The cases listed on the page, newest first.
MAX_CASES = 100


def _customer(ctx: Ctx, customer_id: int) -> queries.CustomerOut:
    try:
        return ctx.app.customer(customer_id)
    except NotFound as exc:
        raise ConsoleError.of(exc) from None


@router.get("/customers/{customer_id}")
def customer_page(ctx: SignedIn, customer_id: IdPath) -> Response:
    ctx.allow(ALL_ROLES)
    customer = _customer(ctx, customer_id)
    with ctx.app.session(read_only=True) as s:
        cases = queries.list_cases(
            s, customer=customer_id, limit=MAX_CASES, sort="opened",
            departments=scope(ctx.principal),
        )  # fmt: skip
        duplicates = (
            [
                d
                for d in customer_ops.suggest_duplicates(s, limit=10_000)
                if customer_id in (d.a, d.b)
            ]
            if customer.merged_into_id is None
            else []
        )
    rated = [c.csat_score for c in cases if c.csat_score is not None]
    return ctx.render(
        "customer.html",
        customer=customer,
        cases=cases,
        csat=(sum(rated) / len(rated)) if rated else None,
        rated=len(rated),
        duplicates=[(d.b if d.a == customer_id else d.a, d) for d in duplicates],
        can_merge=ctx.principal.role in ADMIN,
    )


@router.post("/customers/{customer_id}/merge")
def merge(
    ctx: SignedIn,
    customer_id: IdPath,
    into: Annotated[int, Form(ge=1, le=MAX_ID)],
    csrf: Csrf = None,
    reason: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    """Merge this customer into ``into`` (``POST /api/v1/customers/{id}/merge``)."""
    ctx.check_csrf(csrf)
    ctx.allow(ADMIN)
    why = _text(reason, "reason")
    target = customer_id
    done = ctx.t("Customer %(id)s merged into %(into)s; undo with Unmerge.", id=customer_id, into=into)
    with _action(ctx, done):
        merged = customer_service.merge(
            ctx.app, customer_id, into, actor=ctx.principal.actor, reason=why
        )
        target = merged.target_id
    return ctx.redirect(f"/customers/{target}")


@router.post("/customers/{customer_id}/unmerge")
def unmerge(ctx: SignedIn, customer_id: IdPath, csrf: Csrf = None) -> Response:
    """Undo this customer's merge (``POST /api/v1/customers/{id}/unmerge``)."""
    ctx.check_csrf(csrf)
    ctx.allow(ADMIN)
    done = ctx.t("Customer %(id)s is its own record again.", id=customer_id)
    with _action(ctx, done):
        customer_service.unmerge(ctx.app, customer_id, actor=ctx.principal.actor)
    return ctx.redirect(f"/customers/{customer_id}")
