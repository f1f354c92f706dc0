"""Typed domain events: what happened, written in the transaction that made it happen.

A service that changes something appends frozen events to its transaction (the
``events`` table, through :func:`scrm.core.dispatch.record`); once the transaction is
durable they are dispatched to their consumers (:mod:`scrm.core.dispatch`).  Each event
class names the after-commit hook it is dispatched to, and its fields are that hook's
arguments, so a plugin keeps implementing ``case_opened(case)`` as before.

Events are stored as JSON and rebuilt for a dispatch the process that wrote them did not
finish (the worker's ``events`` task).  :class:`BatchCommitted` stores nothing of its own:
its interactions are the :class:`InteractionStored` events of the same unit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from scrm.core.schemas import (
    CaseInfo,
    Engagement,
    OutboundMessage,
    RejectInfo,
    SendResult,
    StoredInteraction,
    SweptAlerts,
)

__all__ = [
    "EVENT_TYPES",
    "BatchCommitted",
    "CaseEscalated",
    "CaseOpened",
    "CaseTransitioned",
    "CoordinatedDetected",
    "CrisisDetected",
    "CsatReceived",
    "EngagementUpdated",
    "Event",
    "InteractionRejected",
    "InteractionStored",
    "ReplyDelivered",
    "SlaBreached",
    "SlaSwept",
    "SlaWarning",
    "SpikeDetected",
    "decode",
]


class Event(BaseModel):
    """A domain event; its fields are the arguments of the hook named by :attr:`hook`."""

    # Validators are built on first use: every command imports the events, few emit them.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    hook: ClassVar[str]
    """The after-commit hook a dispatch of this event calls (also its stored type)."""

    @classmethod
    def hooks(cls) -> tuple[str, ...]:
        """Every hook a consumer of this event may implement (:attr:`hook` first)."""
        return (cls.hook,)

    def hook_kwargs(self) -> dict[str, Any]:
        """The hook's arguments: the event's fields as they are (models stay models)."""
        return {name: getattr(self, name) for name in type(self).model_fields}

    def payload(self) -> str:
        """The JSON stored in the ``events`` table."""
        return self.model_dump_json()


class InteractionStored(Event):
    hook: ClassVar[str] = "interaction_stored"
    interaction: StoredInteraction


class CaseOpened(Event):
    hook: ClassVar[str] = "case_opened"
    case: CaseInfo


class CaseTransitioned(Event):
    hook: ClassVar[str] = "case_transitioned"
    case: CaseInfo
    old_status: str
    new_status: str
    actor: str


class CsatReceived(Event):
    hook: ClassVar[str] = "csat_received"
    case: CaseInfo
    score: int
    satisfied: bool


class CaseEscalated(Event):
    hook: ClassVar[str] = "case_escalated"
    case: CaseInfo
    level: int
    reason: str
    summary: str


class EngagementUpdated(Event):
    hook: ClassVar[str] = "engagement_updated"
    interaction_id: int
    engagement: Engagement


class BatchCommitted(Event):
    hook: ClassVar[str] = "batch_committed"
    interactions: list[StoredInteraction]

    def payload(self) -> str:
        return "{}"  # the unit's InteractionStored events hold them: see decode()


class InteractionRejected(Event):
    hook: ClassVar[str] = "interaction_rejected"
    reject: RejectInfo


class SlaWarning(Event):
    hook: ClassVar[str] = "sla_warning"
    case: CaseInfo
    clock: str
    due_at: datetime


class SlaBreached(Event):
    hook: ClassVar[str] = "sla_breached"
    case: CaseInfo
    clock: str
    due_at: datetime


class SlaSwept(Event):
    """One SLA sweep's alerts, by id range: one event however many alerts fired.

    A consumer implementing ``sla_swept`` gets the range and reads the alerts itself; one
    that implements only the per-alert hooks (``sla_warning``, ``sla_breached``,
    ``case_escalated``) gets one call per alert, built from the rows by the dispatcher.
    """

    hook: ClassVar[str] = "sla_swept"
    alerts: SweptAlerts

    @classmethod
    def hooks(cls) -> tuple[str, ...]:
        return (cls.hook, SlaWarning.hook, SlaBreached.hook, CaseEscalated.hook)


class ReplyDelivered(Event):
    hook: ClassVar[str] = "reply_delivered"
    case_id: int | None
    message: OutboundMessage
    result: SendResult


class SpikeDetected(Event):
    hook: ClassVar[str] = "spike_detected"
    scope: str
    metric: str
    hour: datetime
    count: int
    baseline: float
    p_value: float
    brand: str | None = None


class CrisisDetected(Event):
    hook: ClassVar[str] = "crisis_detected"
    case: CaseInfo
    score: float
    evidence: dict[str, Any]


class CoordinatedDetected(Event):
    hook: ClassVar[str] = "coordinated_detected"
    case_ids: list[int]
    evidence: dict[str, Any]


EVENT_TYPES: dict[str, type[Event]] = {
    cls.hook: cls
    for cls in (
        InteractionStored,
        CaseOpened,
        CaseTransitioned,
        CsatReceived,
        CaseEscalated,
        EngagementUpdated,
        BatchCommitted,
        InteractionRejected,
        SlaWarning,
        SlaBreached,
        SlaSwept,
        ReplyDelivered,
        SpikeDetected,
        CrisisDetected,
        CoordinatedDetected,
    )
}
"""Every event class by its stored type (the hook it calls)."""


def decode(rows: Iterable[tuple[str, str]]) -> list[Event]:
    """Rebuild a unit's events from its stored ``(type, payload)`` rows, in order."""
    out: list[Event] = []
    stored: list[StoredInteraction] = []
    for kind, payload in rows:
        if kind == BatchCommitted.hook:
            out.append(BatchCommitted(interactions=list(stored)))
            continue
        event = EVENT_TYPES[kind].model_validate_json(payload)
        if isinstance(event, InteractionStored):
            stored.append(event.interaction)
        out.append(event)
    return out
