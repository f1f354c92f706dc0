"""Built-in plugin: turn after-commit events into outgoing webhook deliveries.

Each event hook writes one :class:`~scrm.core.models.WebhookDelivery` per matching
subscription (see :mod:`scrm.core.webhooks`); nothing is sent here, so the request or
ingest that caused the event never waits for a subscriber.  The plugin has its own
connection to the application's database (hooks carry no session; they run after commit),
without a pool, and remembers the subscriptions for a few seconds so that an installation
without subscribers pays nothing per message: a subscription added by another process
takes effect within :data:`CACHE_SECONDS`.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from scrm.plugin import CaseInfo, Config, OutboundMessage, SendResult, StoredInteraction, hookimpl
from scrm.plugin.db import WebhookSubscription, enqueue_event, make_engine, webhook_generation

__all__ = ["CACHE_SECONDS", "WebhooksPlugin", "plugin"]

log = logging.getLogger(__name__)

CACHE_SECONDS = 5.0


def _in_memory(url: str) -> bool:
    # Another connection to an in-memory database would see another, empty database.
    return url.rstrip("/") in ("sqlite:", "sqlite") or "memory" in url


def _case(case: CaseInfo) -> dict[str, Any]:
    return case.model_dump(mode="json")


class WebhooksPlugin:
    """Enqueues webhook deliveries for the events subscribers asked for."""

    def __init__(self, config: Config) -> None:
        self.url = config.database_url
        self._engine: sa.Engine | None = None
        self._lock = threading.Lock()
        self._cached: tuple[float, int, list[list[str]]] | None = None

    def _bind(self) -> sa.Engine:
        with self._lock:
            if self._engine is None:
                self._engine = make_engine(self.url, poolclass=NullPool)
            return self._engine

    def _wanted(self, event_type: str) -> bool:
        now = time.monotonic()
        cached = self._cached
        if cached is None or now - cached[0] > CACHE_SECONDS or cached[1] != webhook_generation[0]:
            with Session(self._bind()) as s:
                types = list(
                    s.scalars(
                        sa.select(WebhookSubscription.event_types).where(
                            WebhookSubscription.active.is_(True)
                        )
                    )
                )
            cached = self._cached = (now, webhook_generation[0], [list(t) for t in types])
        return any(not t or event_type in t for t in cached[2])

    def emit(self, event_type: str, data: dict[str, Any], now: datetime | None = None) -> None:
        """Queue ``event_type`` for its subscribers (in its own short transaction)."""
        if _in_memory(self.url) or not self._wanted(event_type):
            return
        with Session(self._bind()) as s, s.begin():
            enqueue_event(s, event_type, data, now=now)

    # -- hooks ---------------------------------------------------------------------------

    @hookimpl
    def interaction_stored(self, interaction: StoredInteraction) -> None:
        self.emit("interaction.stored", interaction.model_dump(mode="json"))

    @hookimpl
    def case_opened(self, case: CaseInfo) -> None:
        self.emit("case.opened", {"case": _case(case)})

    @hookimpl
    def case_transitioned(
        self, case: CaseInfo, old_status: str, new_status: str, actor: str
    ) -> None:
        self.emit(
            "case.transitioned",
            {
                "case": _case(case),
                "old_status": old_status,
                "new_status": new_status,
                "actor": actor,
            },
        )

    @hookimpl
    def sla_warning(self, case: CaseInfo, clock: str, due_at: datetime) -> None:
        self.emit(
            "sla.warning", {"case": _case(case), "clock": clock, "due_at": due_at.isoformat()}
        )

    @hookimpl
    def sla_breached(self, case: CaseInfo, clock: str, due_at: datetime) -> None:
        self.emit(
            "sla.breached", {"case": _case(case), "clock": clock, "due_at": due_at.isoformat()}
        )

    @hookimpl
    def case_escalated(self, case: CaseInfo, level: int, reason: str, summary: str) -> None:
        self.emit(
            "case.escalated",
            {"case": _case(case), "level": level, "reason": reason, "summary": summary},
        )

    @hookimpl
    def reply_delivered(
        self, case_id: int | None, message: OutboundMessage, result: SendResult
    ) -> None:
        self.emit(
            "reply.delivered",
            {
                "case_id": case_id,
                "channel": message.channel,
                "public": message.public,
                "text": message.text,
                "external_id": result.external_id,
            },
        )

    @hookimpl
    def csat_received(self, case: CaseInfo, score: int, satisfied: bool) -> None:
        self.emit("csat.received", {"case": _case(case), "score": score, "satisfied": satisfied})


def plugin(config: Config) -> WebhooksPlugin:
    return WebhooksPlugin(config)
