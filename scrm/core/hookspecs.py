"""Every hook scrm calls, in the order of a message's life.

Read this file top to bottom: registration, ingest (inside the batch's transaction),
case lifecycle, after commit, errors.  Each spec is the contract; implementations may
accept fewer arguments than the spec declares (pluggy passes only what they name), so
new arguments can be added later without breaking anyone.

Implement hooks with ``from scrm import hookimpl``.  Decision hooks are ``firstresult``:
the first non-``None`` answer wins and the built-in answer is registered ``trylast``, so a
company plugin that answers replaces it and one that returns ``None`` defers to it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from scrm.core.channel import Channel
    from scrm.core.schemas import (
        CaseInfo,
        Classification,
        InboundInteraction,
        OutboundMessage,
        RejectInfo,
        RouteDecision,
        SendResult,
        SlaPolicy,
        StoredInteraction,
    )

__all__ = ["hookimpl", "hookspec"]

PROJECT = "scrm"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------------------
# Registration: called once, when an application or the CLI is built.
# ---------------------------------------------------------------------------


@hookspec
def register_channels(register: Callable[[type[Channel]], None]) -> None:
    """Register channel classes.

    Called once when the application is built, before any ingest.

    :param register: call it with each :class:`~scrm.core.channel.Channel` subclass the
        plugin provides.  Registering a channel name twice is an error that names both plugins.
    :returns: ``None``.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``scrm`` command line.

    Called once when the CLI is built (``scrm --help`` included); must not open the database.

    :param cli: the root ``scrm`` group; call ``cli.add_command(...)``.
    :returns: ``None``.
    """


@hookspec
def register_migrations(register: Callable[[str], None]) -> None:
    """Register an Alembic version location for a plugin's own tables.

    Called when migrations run (``scrm db upgrade``).  A third-party plugin that needs tables
    brings its own Alembic branch (``branch_labels``, ``depends_on`` core's head) and never
    edits core's revisions.

    :param register: call it with a location such as ``"scrm_foo:migrations"``.
    :returns: ``None``.
    """


# ---------------------------------------------------------------------------
# Ingest: called inside the batch's transaction, once per interaction.
# Return values only; side effects outside the database belong after commit.
# ---------------------------------------------------------------------------


@hookspec
def resolve_identity(interaction: InboundInteraction) -> list[tuple[str, str]] | None:
    """Name identities on other channels that belong to the same person as the author.

    Called for each interaction whose author is not yet known, inside the transaction.  If one
    of the named identities exists, the new identity joins its customer instead of creating one.
    Same e-mail address and manual links (``customer_id``) are handled by the core already.

    :param interaction: the validated interaction.
    :returns: ``(channel, external_id)`` pairs, or ``None`` when the plugin knows nothing.
        Results of all plugins are merged.
    """


@hookspec(firstresult=True)
def classify_interaction(interaction: InboundInteraction) -> Classification | None:
    """Decide what an inbound message is: language, sentiment, kind, category, urgency, reach.

    Called once per new inbound interaction, inside the transaction.  Stops at first non-None
    result; the built-in rule-based classifier answers last.

    :param interaction: the validated interaction (``interaction.author.followers`` and
        ``interaction.engagement`` feed the reach score).
    :returns: a :class:`~scrm.core.schemas.Classification`, or ``None`` to defer.
    """


@hookspec(firstresult=True)
def route_interaction(
    interaction: InboundInteraction, classification: Classification
) -> RouteDecision | None:
    """Decide which department owns a message, its priority, and whether it opens a case.

    Called once per new inbound interaction after classification, inside the transaction.
    Stops at first non-None result; the built-in router answers last.

    :param interaction: the validated interaction.
    :param classification: the result of ``classify_interaction``.
    :returns: a :class:`~scrm.core.schemas.RouteDecision` (``department=None`` opens no case),
        or ``None`` to defer.
    """


@hookspec(firstresult=True)
def choose_sla(case: CaseInfo) -> SlaPolicy | None:
    """Choose the SLA policy (first response, follow-up, resolution) for a case.

    Called when a case opens and when its priority, department or category changes, inside
    the transaction.  Stops at first non-None result; the built-in policy table answers last.
    The same policies apply to phone, letter and e-mail as to social channels.

    :param case: the case as it will be stored.
    :returns: a :class:`~scrm.core.schemas.SlaPolicy`, or ``None`` to defer.
    """


# ---------------------------------------------------------------------------
# After commit: called once the batch or change is durable.  Exceptions raised
# here are logged with the plugin's name and never undo the commit.
# ---------------------------------------------------------------------------


@hookspec
def interaction_stored(interaction: StoredInteraction) -> None:
    """React to a newly stored interaction (notify, index, forward).

    Called after commit, once per stored interaction, in ingest order.  Not called for
    duplicates.

    :param interaction: the committed interaction with its case and classification.
    :returns: ``None``.
    """


@hookspec
def case_opened(case: CaseInfo) -> None:
    """React to a new case.

    Called after commit, once per case opened by ingest or by hand.

    :param case: the committed case.
    :returns: ``None``.
    """


@hookspec
def case_transitioned(case: CaseInfo, old_status: str, new_status: str, actor: str) -> None:
    """React to a case changing state.

    Called after commit, once per transition, in order.

    :param case: the case after the transition.
    :param old_status: the state it left.
    :param new_status: the state it entered.
    :param actor: who made the change (agent username, ``system``, ``customer``).
    :returns: ``None``.
    """


@hookspec
def sla_warning(case: CaseInfo, clock: str, due_at: datetime) -> None:
    """React to a deadline that will be missed soon unless someone acts.

    Called after commit by ``scrm sla check`` (and the worker), once per deadline, when the
    policy's ``warn_before`` window starts.

    :param case: the case.
    :param clock: ``first_response``, ``follow_up`` (a promise made to the customer) or
        ``resolution``.
    :param due_at: the deadline.
    :returns: ``None``.
    """


@hookspec
def sla_breached(case: CaseInfo, clock: str, due_at: datetime) -> None:
    """React to a missed deadline (alert, page someone).

    Called after commit, exactly once per missed deadline, however often the check runs
    and however many workers run it.  The escalation ladder has already acted (see
    ``case_escalated``).

    :param case: the case.
    :param clock: ``first_response``, ``follow_up`` or ``resolution``.
    :param due_at: the deadline that was missed.
    :returns: ``None``.
    """


@hookspec
def case_escalated(case: CaseInfo, level: int, reason: str, summary: str) -> None:
    """React to a case climbing a rung of the escalation ladder.

    Called after commit, once per rung.  The rung has already acted (reassigned, raised the
    priority) as configured in ``[[cases.escalation]]``; this hook is for notifying people.

    :param case: the case after the step.
    :param level: the rung (1 is the first).
    :param reason: why (which deadline was missed, or repeated reopening).
    :param summary: what the step did.
    :returns: ``None``.
    """


@hookspec
def reply_delivered(case_id: int | None, message: OutboundMessage, result: SendResult) -> None:
    """React to a reply the channel accepted.

    Called after the outbox has recorded the delivery, once per reply.

    :param case_id: the case the reply answers, if any.
    :param message: what was sent.
    :param result: the channel's id of the sent message.
    :returns: ``None``.
    """


@hookspec
def csat_received(case: CaseInfo, score: int, satisfied: bool) -> None:
    """React to a customer's satisfaction rating.

    Called after commit.  A rating at or below ``cases.csat.reopen_at_or_below`` has already
    reopened the case; the owner's lead should hear about it.

    :param case: the case after the rating.
    :param score: the rating on the configured scale.
    :param satisfied: whether it is above the reopen threshold.
    :returns: ``None``.
    """


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


@hookspec
def interaction_rejected(reject: RejectInfo) -> None:
    """React to a record that could not be ingested (alert, count).

    Called after commit, once per reject; the reject is already stored in the dead-letter
    table and can be replayed with ``scrm rejects replay``.

    :param reject: what was rejected, where, and why.
    :returns: ``None``.
    """
