"""The database side of the plugin API, for plugins that keep tables or read case data.

*Provisional* (see CHANGELOG.md): the built-in department modules use it, and so may a
third-party plugin, but the ORM models follow the schema, which changes with the
migrations.  Sessions are opened by the application (``app.session()``); functions here
take a session and never commit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrm.core.audit import record as record_audit
from scrm.core.cases import OPEN_STATUSES, apply_sla, case_info
from scrm.core.cases import add_event as add_case_event
from scrm.core.cases import transition as transition_case
from scrm.core.db import (
    Base,
    JSONType,
    UTCDateTime,
    chunks,
    created_ts,
    intpk,
    make_engine,
    updated_ts,
    utcnow,
)
from scrm.core.escalation import escalate, swept_alerts
from scrm.core.models import (
    Brand,
    Case,
    Customer,
    Department,
    Identity,
    Interaction,
    WebhookSubscription,
)
from scrm.core.replies import AnswerElsewhere, queue_reply
from scrm.core.tenancy import BrandLinked, BrandOptional
from scrm.core.webhooks import enqueue_event, enqueue_events
from scrm.core.webhooks import generation as webhook_generation

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy.orm import Session

    from scrm.core.metrics.sql import Dimension

__all__ = [
    "OPEN_STATUSES",
    "AnswerElsewhere",
    "Base",
    "Brand",
    "BrandLinked",
    "BrandOptional",
    "Case",
    "Customer",
    "Department",
    "Dimension",
    "Identity",
    "Interaction",
    "JSONType",
    "UTCDateTime",
    "WebhookSubscription",
    "add_case_event",
    "apply_sla",
    "case_info",
    "chunks",
    "created_ts",
    "enqueue_event",
    "enqueue_events",
    "epoch",
    "escalate",
    "intpk",
    "make_engine",
    "queue_reply",
    "record_audit",
    "swept_alerts",
    "transition_case",
    "updated_ts",
    "utcnow",
    "webhook_generation",
]


def epoch(session: Session, column: Any) -> ColumnElement[int]:
    """Whole Unix seconds of a timestamp column (truncated), the same on both databases."""
    # Imported here: the metrics package is large, and every command loads this module.
    from scrm.core.metrics.sql import epoch as metrics_epoch

    return metrics_epoch(session, column)


def __getattr__(name: str) -> Any:
    # Dimension is loaded on first use: the metrics package is large, and every command
    # that stores anything loads this module.
    if name == "Dimension":
        from scrm.core.metrics.sql import Dimension

        return Dimension
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
