"""The public API for plugin authors: import from here, and only from here.

Everything a channel plugin or a department module needs is re-exported by this package
and its submodules; the modules under ``scrm.core``, ``scrm.cli`` and ``scrm.server`` are
internal and may change in any release.  What is stable, and for how long, is written in
CHANGELOG.md ("Stability of the plugin API").

- :mod:`scrm.plugin`: hooks, the :class:`Channel` base and its errors, the schemas that
  cross a boundary, the configuration, the application type, the ingest report, the
  log-safe helpers, the domain errors a plugin raises, the typed domain events and the
  :class:`EventContext` an after-commit hook gets as ``ctx`` (``ctx.emit(SpikeDetected(...))``).
- :mod:`scrm.plugin.cli`: what a plugin command needs (the command context, JSON output,
  tables, one-line errors).  Imports click and rich: import it inside
  ``register_commands``.
- :mod:`scrm.plugin.web`: what a webhook route needs (``receive_webhook``,
  ``error_response``).  Imports FastAPI: import it inside ``add_routes``.
- :mod:`scrm.plugin.db`: provisional, for plugins that keep tables or read case data (the
  ORM models, session helpers and case operations the built-in department modules use).
- :mod:`scrm.plugin.polling`: provisional, for channels that poll an API (the HTTP errors,
  a rate-limit aware client with capped back-off, the poll report).  Cheap to import:
  httpx is loaded when a request is sent.

Importing this package is cheap (pydantic and pluggy): the application, its database layer
and the ingest pipeline are loaded on first use of :class:`Scrm`, :class:`IngestReport`,
:class:`UnknownChannel` or :class:`EventContext`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from scrm.core.bounds import Count32, Instant, RowId
from scrm.core.channel import (
    DEFAULT_ACCOUNT,
    Channel,
    ChannelError,
    ParseError,
    PermanentSendError,
    TransientSendError,
)
from scrm.core.config import Config, ConfigError, EscalationStep, plain_message
from scrm.core.context import PluginContext
from scrm.core.errors import N_, InvalidInput, NotFound, Refused, ScrmError
from scrm.core.events import (
    BatchCommitted,
    CaseEscalated,
    CaseOpened,
    CaseTransitioned,
    CoordinatedDetected,
    CrisisDetected,
    CsatReceived,
    EngagementUpdated,
    Event,
    InteractionRejected,
    InteractionStored,
    ReplyDelivered,
    SlaBreached,
    SlaSwept,
    SlaWarning,
    SpikeDetected,
)
from scrm.core.hookspecs import hookimpl, hookspec
from scrm.core.linejobs import LineError, TextJob, run_lines
from scrm.core.logsafe import REDACTED, content_logging, loggable
from scrm.core.playbooks import PlaybookSet, load_playbooks
from scrm.core.schemas import (
    MAX_TEXT_LENGTH,
    Attachment,
    Author,
    BusinessCalendar,
    CaseInfo,
    CaseStatus,
    Classification,
    CustomerInfo,
    Direction,
    Engagement,
    ExternalId,
    InboundInteraction,
    Kind,
    OutboundMessage,
    Priority,
    RejectInfo,
    RouteDecision,
    SendResult,
    SlaPolicy,
    StoredInteraction,
    SweptAlerts,
    normalize_email,
    normalize_phone,
)
from scrm.core.text import BOUNDARY, find_urls, normalize, tokenize

if TYPE_CHECKING:
    from scrm.core.app import Scrm, UnknownChannel
    from scrm.core.dispatch import EventContext
    from scrm.core.pipeline import IngestReport

__all__ = [
    "BOUNDARY",
    "DEFAULT_ACCOUNT",
    "MAX_TEXT_LENGTH",
    "N_",
    "REDACTED",
    "Attachment",
    "Author",
    "BatchCommitted",
    "BusinessCalendar",
    "CaseEscalated",
    "CaseInfo",
    "CaseOpened",
    "CaseStatus",
    "CaseTransitioned",
    "Channel",
    "ChannelError",
    "Classification",
    "Config",
    "ConfigError",
    "CoordinatedDetected",
    "Count32",
    "CrisisDetected",
    "CsatReceived",
    "CustomerInfo",
    "Direction",
    "Engagement",
    "EngagementUpdated",
    "EscalationStep",
    "Event",
    "EventContext",
    "ExternalId",
    "InboundInteraction",
    "IngestReport",
    "Instant",
    "InteractionRejected",
    "InteractionStored",
    "InvalidInput",
    "Kind",
    "LineError",
    "NotFound",
    "OutboundMessage",
    "ParseError",
    "PermanentSendError",
    "PlaybookSet",
    "PluginContext",
    "Priority",
    "Refused",
    "RejectInfo",
    "ReplyDelivered",
    "RouteDecision",
    "RowId",
    "Scrm",
    "ScrmError",
    "SendResult",
    "SlaBreached",
    "SlaPolicy",
    "SlaSwept",
    "SlaWarning",
    "SpikeDetected",
    "StoredInteraction",
    "SweptAlerts",
    "TextJob",
    "TransientSendError",
    "UnknownChannel",
    "content_logging",
    "find_urls",
    "hookimpl",
    "hookspec",
    "load_playbooks",
    "loggable",
    "normalize",
    "normalize_email",
    "normalize_phone",
    "plain_message",
    "run_lines",
    "tokenize",
]

#: Names loaded on first use: their modules import SQLAlchemy and the whole core.
_LAZY = {
    "Scrm": "scrm.core.app",
    "UnknownChannel": "scrm.core.app",
    "IngestReport": "scrm.core.pipeline",
    "EventContext": "scrm.core.dispatch",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
