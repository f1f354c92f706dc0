"""``/api/v1/customers``: list, get, identities, merge and unmerge (admin, audited)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from scrm.core import queries
from scrm.core.app import Scrm
from scrm.core.queries import CustomerOut, IdentityOut
from scrm.core.services import customers
from scrm.server.auth import AdminKey, AnyKey, get_scrm
from scrm.server.errors import ErrorOut
from scrm.server.pagination import MAX_ID, IdPath, Page, decode_cursor, page

__all__ = ["router"]

router = APIRouter(prefix="/customers", tags=["customers"])
App = Annotated[Scrm, Depends(get_scrm)]
_REFUSED: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "The merge or unmerge is refused."}
}


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into: int = Field(description="Id of the customer record that survives.", ge=1, le=MAX_ID)
    reason: str | None = Field(default=None, max_length=500)


@router.get("", summary="List customers (not merged away), oldest first")
def list_customers(
    app: App,
    who: AnyKey,
    search: Annotated[
        str | None, Query(max_length=200, description="Name, handle, e-mail or phone.")
    ] = None,
    include_merged: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[CustomerOut]:
    with app.session(read_only=True) as s:
        items = queries.list_customers(
            s,
            search=search,
            include_merged=include_merged,
            limit=limit + 1,
            after=decode_cursor(cursor),
        )
    return page(items, limit)


@router.get("/{customer_id}", summary="A customer with every identity of its record")
def get_customer(app: App, customer_id: IdPath, who: AnyKey) -> CustomerOut:
    return app.customer(customer_id)


@router.get("/{customer_id}/identities", summary="The customer's identities on every channel")
def identities(app: App, customer_id: IdPath, who: AnyKey) -> list[IdentityOut]:
    return app.customer(customer_id).identities


@router.post(
    "/{customer_id}/merge",
    summary="Merge this customer into another (reversible)",
    responses=_REFUSED,
)
def merge(app: App, customer_id: IdPath, body: MergeIn, who: AdminKey) -> CustomerOut:
    done = customers.merge(app, customer_id, body.into, actor=who.actor, reason=body.reason)
    return app.customer(done.target_id)


@router.post(
    "/{customer_id}/unmerge", summary="Undo the merge of this customer", responses=_REFUSED
)
def unmerge(app: App, customer_id: IdPath, who: AdminKey) -> CustomerOut:
    customers.unmerge(app, customer_id, actor=who.actor)
    return app.customer(customer_id)


class ErasureOut(BaseModel):
    customer_id: int
    customers: list[int] = Field(
        description="Every record of the person's merge family that was erased."
    )
    counts: dict[str, int] = Field(description="Rows changed or deleted per table (no content).")


@router.post(
    "/{customer_id}/erase",
    summary="Erase a person's personal data everywhere (KVKK/GDPR); admin only",
)
def erase(app: App, customer_id: IdPath, who: AdminKey) -> ErasureOut:
    """Irreversibly remove or anonymise the person's data; counts and times stay for metrics."""
    report = customers.erase(app, customer_id, actor=who.actor)
    return ErasureOut(
        customer_id=report.customer_id, customers=report.customers, counts=report.counts
    )


@router.get(
    "/{customer_id}/export",
    summary="Everything stored about a person (data portability); admin only",
)
def export(app: App, customer_id: IdPath, who: AdminKey) -> dict[str, Any]:
    from scrm.core.export import export_customer

    app.customer(customer_id)
    with app.session(read_only=True) as s:
        return export_customer(s, customer_id)
