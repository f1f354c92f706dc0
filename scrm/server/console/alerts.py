"""The console's alert feed: crises, spikes and coordinated bursts as they are stored, and
their acknowledgement (:mod:`scrm.core.alerts`, an audited action).  Every page's script asks
``/app/alerts?partial=1`` every :data:`~scrm.server.console.pages.POLL_SECONDS` for the count
of alerts nobody has acknowledged; the alerts page also refreshes its list that way.  An
agent limited to departments sees only the alerts about cases of those departments.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from scrm.core import alerts
from scrm.core.errors import NotFound
from scrm.server.auth import ALL_ROLES, WORKER_ROLES, scope
from scrm.server.console.pages import POLL_SECONDS, ConsoleError, Csrf, SignedIn, _action, _text
from scrm.server.pagination import IdPath

__all__ = ["router"]

router = APIRouter()
#: The alerts listed, newest first.
SHOWN = 50


@router.get("/alerts")
def alerts_page(ctx: SignedIn, partial: bool = False) -> Response:
    ctx.allow(ALL_ROLES)
    mine = scope(ctx.principal)
    with ctx.app.session(read_only=True) as s:
        found = alerts.list_alerts(s, limit=SHOWN, departments=mine)
        waiting = alerts.unacknowledged(s, departments=mine)
    values: dict[str, Any] = {"alerts": found, "waiting": waiting, "poll": POLL_SECONDS}
    if partial:
        response = ctx.render("_alerts.html", **values)
        response.headers["X-Console-Fragment"] = "alerts"
    else:
        response = ctx.render("alerts.html", **values)
    response.headers["X-Console-Alerts"] = str(waiting)
    return response


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(
    ctx: SignedIn,
    alert_id: IdPath,
    csrf: Csrf = None,
    note: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    """Take an alert on: who and when is shown with it, and written to the audit log."""
    ctx.check_csrf(csrf)
    ctx.allow(WORKER_ROLES)
    text = _text(note, "note")
    done = ctx.t("Alert %(id)s acknowledged.", id=alert_id)
    with ctx.app.session(read_only=True) as s:
        try:
            alerts.check_alert(s, alert_id, scope(ctx.principal))
        except NotFound as exc:
            raise ConsoleError.of(exc) from None
    with _action(ctx, done), ctx.app.session() as s:
        alerts.acknowledge(s, alert_id, actor=ctx.principal.actor, note=text)
    return ctx.redirect("/alerts")
