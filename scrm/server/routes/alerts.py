"""``/api/v1/alerts``: crises, spikes and coordinated bursts, and their acknowledgement
(:mod:`scrm.core.alerts`, the same calls as the console's alert page).  An agent key limited
to departments sees, and acknowledges, only the alerts about cases of its departments."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from scrm.core import alerts
from scrm.core.app import Scrm
from scrm.server.auth import AnyKey, WorkerKey, get_scrm, scope
from scrm.server.errors import ErrorOut
from scrm.server.pagination import IdPath

__all__ = ["router"]

router = APIRouter(prefix="/alerts", tags=["alerts"])
App = Annotated[Scrm, Depends(get_scrm)]


class AlertOut(BaseModel):
    id: int = Field(description="The stored event's id.")
    kind: str = Field(description="crisis, spike or coordinated.")
    at: datetime
    summary: str
    case_ids: list[int]
    details: dict[str, Any] = Field(description="The detecting module's evidence.")
    acknowledged_by: str | None
    acknowledged_at: datetime | None


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=500)


class AckOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    event_id: int
    actor: str
    at: datetime
    note: str | None


@router.get("", summary="Alerts, newest first (crisis, spike, coordinated burst)")
def list_alerts(
    app: App,
    who: AnyKey,
    open_only: Annotated[bool, Query(alias="open", description="Only unacknowledged.")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[AlertOut]:
    """An agent key limited to departments gets the alerts about their cases only."""
    with app.session(read_only=True) as s:
        found = alerts.list_alerts(s, limit=limit, open_only=open_only, departments=scope(who))
    return [AlertOut.model_validate(asdict(a)) for a in found]


@router.post(
    "/{alert_id}/acknowledge",
    summary="Acknowledge an alert (audited; once)",
    responses={409: {"model": ErrorOut, "description": "Someone acknowledged it already."}},
)
def acknowledge(app: App, alert_id: IdPath, body: AckIn, who: WorkerKey) -> AckOut:
    with app.session() as s:
        alerts.check_alert(s, alert_id, scope(who))  # another department's: 404
        ack = alerts.acknowledge(s, alert_id, actor=who.actor, note=body.note)
        return AckOut.model_validate(ack)
