"""SLA clocks: the sweep that fires due warnings, breaches and escalation steps.

``scrm sla check``, the worker's ``sla`` task and embedding code call :func:`check`; the
deadlines themselves are :mod:`scrm.core.sla`, the sweep's queries and the escalation
ladder :mod:`scrm.core.escalation`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from scrm.core import escalation
from scrm.core.db import utcnow
from scrm.core.dispatch import transaction
from scrm.core.events import SlaSwept
from scrm.core.services.cases import close_silent

if TYPE_CHECKING:
    from scrm.core.app import Scrm

__all__ = ["check"]


def check(app: Scrm, now: datetime | None = None) -> escalation.Alerts:
    """Fire due warnings, breaches and escalation steps (each exactly once), after closing
    the cases whose proposed solution met silence
    (:func:`scrm.core.services.cases.close_silent`).

    The sweep records one :class:`~scrm.core.events.SlaSwept` event, whose consumers read
    the alerts themselves.

    :returns: the alerts fired, a sequence read from the database when first iterated.
    """
    now = now or utcnow()
    close_silent(app, now)
    with transaction(app) as (s, events):
        sweep = escalation.check_deadlines(
            s, now=now, config=app.config.cases, policy_for=app.hooks.choose_sla
        )
        if sweep.swept:
            events.append(SlaSwept(alerts=sweep.swept))
    return escalation.Alerts(app.session, sweep)
