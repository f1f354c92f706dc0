"""Built-in plugin: turn domain events into outgoing webhook deliveries.

Each event hook writes one :class:`~scrm.core.models.WebhookDelivery` per matching
subscription (see :mod:`scrm.core.webhooks`); ``sla_swept`` does it for all the alerts of
an SLA sweep, a chunk per statement.  They write in the transaction the dispatcher gives
(``ctx.session``), which commits with the record that the event was handled: a delivery is
queued exactly once per event, also when a process dies after the business commit and the
worker dispatches the event.  Nothing is sent here, so the request or ingest that caused the
event never waits for a subscriber.  The plugin keeps no application and no database URL:
it works on the application it is dispatched for, and remembers each database's
subscriptions for a few seconds so that an installation without subscribers pays nothing
per message (a subscription added by another process takes effect within
:data:`CACHE_SECONDS`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from scrm.plugin import (
    CaseEscalated,
    CaseInfo,
    Event,
    OutboundMessage,
    SendResult,
    SlaBreached,
    SlaWarning,
    StoredInteraction,
    SweptAlerts,
    hookimpl,
)

if TYPE_CHECKING:
    from scrm.plugin import EventContext

__all__ = ["CACHE_SECONDS", "WebhooksPlugin", "plugin"]

log = logging.getLogger(__name__)

CACHE_SECONDS = 5.0


def _case(case: CaseInfo) -> dict[str, Any]:
    return case.model_dump(mode="json")


#: The webhook event type of each kind of SLA alert.
_SLA_TYPES = {"warning": "sla.warning", "breach": "sla.breached", "escalation": "case.escalated"}


def _sla_data(event: Event) -> tuple[str, dict[str, Any]]:
    """An SLA sweep's per-alert event as (webhook event type, data)."""
    if isinstance(event, CaseEscalated):
        return "case.escalated", _escalated(event.case, event.level, event.reason, event.summary)
    assert isinstance(event, (SlaBreached, SlaWarning))
    kind = "sla.breached" if isinstance(event, SlaBreached) else "sla.warning"
    return kind, {"case": _case(event.case), "clock": event.clock, "due_at": event.due_at.isoformat()}


def _escalated(case: CaseInfo, level: int, reason: str, summary: str) -> dict[str, Any]:
    return {"case": _case(case), "level": level, "reason": reason, "summary": summary}


class WebhooksPlugin:
    """Enqueues webhook deliveries for the events subscribers asked for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached: dict[str, tuple[float, int, list[list[str]]]] = {}

    def _wanted(self, ctx: EventContext, event_type: str) -> bool:
        import sqlalchemy as sa

        from scrm.plugin.db import WebhookSubscription, webhook_generation

        now = time.monotonic()
        key = ctx.app.config.database_url
        with self._lock:
            cached = self._cached.get(key)
        if cached is None or now - cached[0] > CACHE_SECONDS or cached[1] != webhook_generation[0]:
            types = list(
                ctx.session.scalars(
                    sa.select(WebhookSubscription.event_types).where(
                        WebhookSubscription.active.is_(True)
                    )
                )
            )
            cached = (now, webhook_generation[0], [list(t) for t in types])
            with self._lock:
                self._cached[key] = cached
        return any(not t or event_type in t for t in cached[2])

    def emit(
        self,
        ctx: EventContext,
        event_type: str,
        data: Callable[[], dict[str, Any]],
        now: datetime | None = None,
    ) -> None:
        """Queue ``event_type`` for its subscribers, in the dispatch's transaction; ``data``
        builds its data, only when some subscriber wants it."""
        from scrm.plugin.db import enqueue_event

        if self._wanted(ctx, event_type):
            enqueue_event(ctx.session, event_type, data(), now=now)

    # -- hooks ---------------------------------------------------------------------------

    @hookimpl
    def interaction_stored(self, interaction: StoredInteraction, ctx: EventContext) -> None:
        self.emit(ctx, "interaction.stored", lambda: interaction.model_dump(mode="json"))

    @hookimpl
    def case_opened(self, case: CaseInfo, ctx: EventContext) -> None:
        self.emit(ctx, "case.opened", lambda: {"case": _case(case)})

    @hookimpl
    def case_transitioned(
        self, case: CaseInfo, old_status: str, new_status: str, actor: str, ctx: EventContext
    ) -> None:
        self.emit(
            ctx,
            "case.transitioned",
            lambda: {
                "case": _case(case),
                "old_status": old_status,
                "new_status": new_status,
                "actor": actor,
            },
        )

    @hookimpl
    def sla_swept(self, alerts: SweptAlerts, ctx: EventContext) -> None:
        """Queue a sweep's alerts for the subscribers that want them, a chunk per statement;
        nothing is read when no subscriber wants any kind of them."""
        kinds = [k for k, event_type in _SLA_TYPES.items() if self._wanted(ctx, event_type)]
        if not kinds:
            return
        from scrm.plugin.db import enqueue_events, swept_alerts

        for chunk in swept_alerts(ctx.session, alerts, kinds):
            enqueue_events(ctx.session, [_sla_data(e) for e in chunk])

    @hookimpl
    def case_escalated(
        self, case: CaseInfo, level: int, reason: str, summary: str, ctx: EventContext
    ) -> None:
        self.emit(ctx, "case.escalated", lambda: _escalated(case, level, reason, summary))

    @hookimpl
    def reply_delivered(
        self, case_id: int | None, message: OutboundMessage, result: SendResult, ctx: EventContext
    ) -> None:
        self.emit(
            ctx,
            "reply.delivered",
            lambda: {
                "case_id": case_id,
                "channel": message.channel,
                "public": message.public,
                "text": message.text,
                "external_id": result.external_id,
            },
        )

    @hookimpl
    def csat_received(self, case: CaseInfo, score: int, satisfied: bool, ctx: EventContext) -> None:
        self.emit(
            ctx,
            "csat.received",
            lambda: {"case": _case(case), "score": score, "satisfied": satisfied},
        )


plugin = WebhooksPlugin()
"""The registered plugin; it takes no settings (the subscriptions are in the database)."""
