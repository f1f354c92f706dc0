"""``/api/v1/interactions``: list, get, record a phone call/letter/fax/visit, correct labels."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Response

from scrm.core import queries
from scrm.core.app import Scrm
from scrm.core.bounds import clean_text
from scrm.core.labels import LabelFix
from scrm.core.models import Interaction
from scrm.core.queries import InteractionOut
from scrm.plugins.manual import ManualRecord
from scrm.server.auth import AnyKey, IngestKey, WorkerKey, check_interaction, get_scrm, scope
from scrm.server.errors import ApiError
from scrm.server.pagination import IdPath, IdQuery, Page, decode_cursor, page

__all__ = ["router"]

router = APIRouter(prefix="/interactions", tags=["interactions"])
App = Annotated[Scrm, Depends(get_scrm)]


@router.get("", summary="List interactions, oldest first")
def list_interactions(
    app: App,
    who: AnyKey,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    customer: IdQuery = None,
    case: IdQuery = None,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[InteractionOut]:
    with app.session(read_only=True) as s:
        items = queries.list_interactions(
            s,
            channel=channel,
            customer=customer,
            case=case,
            kind=kind,
            limit=limit + 1,
            after=decode_cursor(cursor),
            departments=scope(who),
        )
    return page(items, limit)


@router.get("/{interaction_id}", summary="One interaction with its labels")
def get_interaction(app: App, interaction_id: IdPath, who: AnyKey) -> InteractionOut:
    check_interaction(app, who, interaction_id)
    return app.interaction(interaction_id)


@router.post(
    "",
    status_code=201,
    summary="Record a contact on a traditional channel (phone, letter, fax, walk-in)",
    responses={200: {"model": InteractionOut, "description": "Already recorded (same record_id)."}},
)
def create_interaction(
    app: App,
    record: ManualRecord,
    response: Response,
    who: IngestKey,
) -> InteractionOut:
    """Ingest one record through the manual channel: identity, classification, routing and
    case, exactly as a file import would.  The same ``record_id`` twice is stored once."""
    payload = record.model_dump(mode="json", exclude_none=True)
    report = app.ingest_native(record.channel, [payload], source=f"api:{who.actor}")
    if report.rejected:
        reject = report.rejects[0]
        raise ApiError(422, "invalid", reject.reason, reject.field)
    if not report.stored:
        response.status_code = 200
    with app.session() as s:
        found = s.scalar(
            sa.select(Interaction.id).where(
                Interaction.channel == record.channel,
                # As stored: the interchange schema replaced any NUL (see scrm.core.bounds).
                Interaction.external_id == clean_text(record.record_id)[0],
            )
        )
    if found is None:  # pragma: no cover - the pipeline stored or found it
        raise ApiError(422, "invalid", "the record was not stored")
    return app.interaction(found)


@router.post("/{interaction_id}/labels", summary="Correct the classification of an interaction")
def correct_labels(
    app: App, interaction_id: IdPath, fix: LabelFix, who: WorkerKey
) -> InteractionOut:
    check_interaction(app, who, interaction_id)
    app.relabel(interaction_id, who.actor, **fix.model_dump(exclude_unset=True, exclude_none=True))
    return app.interaction(interaction_id)
