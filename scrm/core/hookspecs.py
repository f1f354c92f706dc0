"""Every hook scrm calls, in the order of a message's life.

Read this file top to bottom: registration, ingest (inside the batch's transaction),
case lifecycle, after commit, errors.  Each spec is the contract; implementations may
accept fewer arguments than the spec declares (pluggy passes only what they name), so
new arguments can be added later without breaking anyone.  Runtime hooks get ``ctx``: a
plugin reads its validated settings there (``ctx.plugin_config(name)``) and keeps none.
Decision hooks get the context of the message's or the case's brand (``ctx.brand``): the
same call returns the brand's settings, ``[brands.<key>.plugins.<name>]`` merged over the
deployment's.

Implement hooks with ``from scrm import hookimpl``.  Decision hooks are ``firstresult``:
the first non-``None`` answer wins and the built-in answer is registered ``trylast``, so a
company plugin that answers replaces it and one that returns ``None`` defers to it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click
    from fastapi import APIRouter

    from scrm.core.app import Scrm
    from scrm.core.channel import Channel
    from scrm.core.context import PluginContext
    from scrm.core.dispatch import EventContext
    from scrm.core.metrics.sql import Dimension
    from scrm.core.schemas import (
        CaseInfo,
        Classification,
        CustomerInfo,
        Engagement,
        InboundInteraction,
        OutboundMessage,
        RejectInfo,
        RouteDecision,
        SendResult,
        SlaPolicy,
        StoredInteraction,
        SweptAlerts,
    )

__all__ = ["hookimpl", "hookspec"]

PROJECT = "scrm"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------------------
# Registration: called once, when an application or the CLI is built.
# ---------------------------------------------------------------------------


@hookspec(historic=True)
def register_hookspecs(register: Callable[[object], None]) -> None:
    """Declare hooks of the plugin's own, for other plugins to implement.

    Called for each plugin as it is registered, before anything else of it is called, so a
    plugin that implements a hook declared by another works in whatever order the two were
    installed.  An implementation of a hook nobody declared is an error naming the plugin.
    Call a declared hook through the application's plugin manager, e.g.
    ``ctx.app.pm.hook.vip_detected(customer_id=...)`` in an after-commit hook.

    :param register: call it with a class or module whose functions are marked
        ``@hookspec`` (from :mod:`scrm.plugin`); name them after the plugin (``vip_...``)
        so they cannot collide with scrm's own hooks.
    :returns: ``None``.
    """


@hookspec
def register_channels(register: Callable[[type[Channel]], None]) -> None:
    """Register channel classes.

    Called once when the application is built, before any ingest.

    :param register: call it with each :class:`~scrm.core.channel.Channel` subclass the
        plugin provides.  Registering a channel name twice is an error that names both plugins.
    :returns: ``None``.
    """


@hookspec
def register_categories(register: Callable[[str, str | None], None], ctx: PluginContext) -> None:
    """Name the message categories the plugin's classifier gives, and the playbook each follows.

    Called once per brand, when its categories are first needed.  The case service renders a case's reply
    templates from the playbook of its category's name, else from the one registered here for
    it, else from ``other``; the console offers the categories registered here, with the
    playbooks', when an agent relabels a message.

    :param register: call ``register(category, playbook)`` for each category; ``playbook`` is
        the playbook it follows when there is none of its own name (``None``: ``other``).
    :param ctx: the :class:`~scrm.core.context.PluginContext` of the deployment or of one
        brand (``ctx.brand``; called once for each): the categories may depend on the
        plugin's settings (``[plugins.classifier] sectors``, a brand's own).
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
def register_migrations(register: Callable[..., None]) -> None:
    """Register an Alembic version location for a plugin's own tables.

    Called when migrations run (``scrm db upgrade``) and the schema is checked.  A plugin
    that needs tables brings its own Alembic branch (``branch_labels``, starting from the
    core revision that has the tables it refers to) and never edits core's revisions; the
    built-in department modules do the same.

    :param register: call it as ``register(location, models=None)``: ``location`` such as
        ``"scrm_foo:migrations"``; ``models`` the module that declares the plugin's tables
        (``"scrm_foo.models"``), imported by ``scrm db check`` to compare them with the
        database (and only then: every command calls this hook to check the schema).
    :returns: ``None``.
    """


@hookspec
def register_report_dimensions(register: Callable[[Dimension], None]) -> None:
    """Add a slice to the service report (``scrm report --by <name>``, the REST API, the console).

    Called when a report is built or its slices are listed; must not open the database.
    A slice gives each case one value (a correlated scalar subquery over the plugin's own
    tables, say), so that the slices add up to the total.

    :param register: call it with a :class:`~scrm.plugin.db.Dimension`: ``name``, ``value`` (a
        callable returning the SQL expression of a case's slice key, NULL for none) and
        optionally ``join`` (adds the tables the value needs to a FROM clause holding
        ``cases``).  A name registered twice is an error.
    :returns: ``None``.
    """


@hookspec
def register_routes(router: APIRouter) -> None:
    """Add HTTP routes to ``scrm serve``, such as a channel's webhook at ``/webhooks/<channel>``.

    Called once when the HTTP application is built (:func:`scrm.server.create_app`); must not
    open the database.  Routes added here are outside ``/api/v1`` and get no API-key check:
    they must authenticate their callers themselves (a channel verifies the platform's
    signature).  A webhook POST should hand the raw request to
    :func:`scrm.plugin.web.receive_webhook`, which verifies it with ``Channel.verify``,
    stores it durably in the inbox before answering 200, and ingests it right after.

    :param router: a FastAPI ``APIRouter``; add routes with ``router.get(...)`` /
        ``router.post(...)`` or ``router.add_api_route(...)``.  Each handler can reach the
        application as ``request.app.state.scrm``.
    :returns: ``None``.
    """


@hookspec
def app_started(app: Scrm) -> None:
    """Warm up for an application: load a model, compile patterns, check a setting.

    Called once at the end of :class:`~scrm.core.app.Scrm` construction (``scrm.open``, each
    CLI command, the HTTP server), before any ingest; must not open the database.  Do not
    keep ``app``: several applications may share one plugin manager.  After-commit hooks get
    the application they run for as ``ctx.app`` and a transaction as ``ctx.session``.

    :param app: the application.
    :returns: ``None``.
    """


@hookspec
def register_tasks(register: Callable[..., None]) -> None:
    """Add periodic background tasks to ``scrm worker`` (polling a channel, say).

    Called once when a worker starts.

    :param register: call it as ``register(name, interval, run, exclusive=True)``: ``run`` is
        called with the application and the current time and returns a one-line summary;
        ``interval`` is in seconds (on PostgreSQL, rounded down to a cron step: 45 s runs
        every 30 s); an ``exclusive`` task runs on one worker at a time (on PostgreSQL, a
        procrastinate job with a lock named after it), so several workers never poll the
        same mailbox or account at once.  On PostgreSQL a run may be repeated (a worker that
        died mid-run has its job run again by another), so ``run`` must be idempotent:
        store what it fetches under a unique key, as ingest does with ``(channel,
        external_id)``.
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
    The same e-mail address or phone number, and manual links (``customer_id``), are handled
    by the core already.

    :param interaction: the validated interaction.
    :returns: ``(channel, external_id)`` pairs, or ``None`` when the plugin knows nothing.
        Results of all plugins are merged.
    """


@hookspec(firstresult=True)
def classify_interaction(interaction: InboundInteraction, ctx: PluginContext) -> Classification | None:
    """Decide what an inbound message is: language, sentiment, kind, category, urgency, reach.

    Called once per new inbound interaction, inside the transaction.  Stops at first non-None
    result; the built-in rule-based classifier answers last.

    :param interaction: the validated interaction (``interaction.author.followers`` and
        ``interaction.engagement`` feed the reach score).
    :param ctx: the :class:`~scrm.core.context.PluginContext` of the message's brand
        (``ctx.brand``): read the plugin's validated settings, the brand's, with
        ``ctx.plugin_config(name)``.  ``scrm classify`` passes the deployment's (brand
        ``None``), or that of ``--brand``.
    :returns: a :class:`~scrm.core.schemas.Classification`, or ``None`` to defer.
    """


@hookspec(firstresult=True)
def route_interaction(
    interaction: InboundInteraction,
    classification: Classification,
    customer: CustomerInfo | None,
    ctx: PluginContext,
) -> RouteDecision | None:
    """Decide which department owns a message, its priority, and whether it opens a case.

    Called once per new inbound interaction after classification, inside the transaction.
    Stops at first non-None result; the built-in router answers last.

    :param interaction: the validated interaction.
    :param classification: the result of ``classify_interaction``.
    :param customer: the customer it belongs to (attributes such as a tier), or ``None``
        when it could not be resolved.
    :param ctx: the :class:`~scrm.core.context.PluginContext` of the message's brand
        (``ctx.brand``, its settings).  A department the brand does not use
        (``[brands.<key>] departments``) becomes triage.
    :returns: a :class:`~scrm.core.schemas.RouteDecision` (``department=None`` opens no case),
        or ``None`` to defer.
    """


@hookspec(firstresult=True)
def choose_sla(case: CaseInfo, ctx: PluginContext) -> SlaPolicy | None:
    """Choose the SLA policy (first response, follow-up, resolution) for a case.

    Called when a case opens and when its priority, department or category changes, inside
    the transaction.  Stops at first non-None result; the built-in policy table answers last.
    The same policies apply to phone, letter and e-mail as to social channels.

    :param case: the case as it will be stored (``case.brand``: its brand's key).
    :param ctx: the :class:`~scrm.core.context.PluginContext` of the case's brand
        (``ctx.brand == case.brand``, its settings), wherever the policy is asked for: at
        ingest, in the SLA sweep, in reports.
    :returns: a :class:`~scrm.core.schemas.SlaPolicy`, or ``None`` to defer.
    """


# ---------------------------------------------------------------------------
# After commit: each hook is the dispatch of a domain event (scrm.plugin exports
# the event classes and EventContext) that the batch or change wrote in its own
# transaction.  Once it is durable,
# each plugin gets the events in a transaction of its own, ``ctx.session``,
# committed with the record that the plugin handled them: what a plugin writes
# there happens exactly once; effects outside the database at least once (the
# worker dispatches what a killed process left).  ``ctx.emit(event)`` raises a
# further event; ``ctx.plugin_config(name)`` returns a plugin's validated settings.
# Exceptions are logged with the plugin's name, roll back what the call wrote
# through ``ctx.session``, and never undo the commit.
# ---------------------------------------------------------------------------


@hookspec
def interaction_stored(interaction: StoredInteraction, ctx: EventContext) -> None:
    """React to a newly stored interaction (notify, index, forward).

    Called after commit, once per stored interaction, in ingest order.  Not called for
    duplicates.

    :param interaction: the committed interaction with its case and classification.
    :param ctx: this dispatch's :class:`~scrm.core.dispatch.EventContext` (see "After commit").
    :returns: ``None``.
    """


@hookspec
def batch_committed(interactions: list[StoredInteraction], ctx: EventContext) -> None:
    """Do set-based work once per ingest batch, after its per-interaction hooks.

    Called after commit, once per batch, with every interaction the batch stored (possibly
    none).  Plugins that need the database per message (scoring a case, counting an hour)
    note what changed in ``interaction_stored`` and do the work here, in one transaction,
    once per case or hour instead of once per message.

    :param interactions: the batch's stored interactions, in ingest order.
    :param ctx: this dispatch's :class:`~scrm.core.dispatch.EventContext` (see "After commit").
    :returns: ``None``.
    """


@hookspec
def case_opened(case: CaseInfo, ctx: EventContext) -> None:
    """React to a new case.

    Called after commit, once per case opened by ingest or by hand.

    :param case: the committed case.
    :param ctx: this dispatch's :class:`~scrm.core.dispatch.EventContext` (see "After commit").
    :returns: ``None``.
    """


@hookspec
def case_transitioned(
    case: CaseInfo, old_status: str, new_status: str, actor: str, ctx: EventContext
) -> None:
    """React to a case changing state.

    Called after commit, once per transition, in order.

    :param case: the case after the transition.
    :param old_status: the state it left.
    :param new_status: the state it entered.
    :param actor: who made the change (agent username, ``system``, ``customer``).
    :param ctx: this dispatch's :class:`~scrm.core.dispatch.EventContext` (see "After commit").
    :returns: ``None``.
    """


@hookspec
def sla_warning(case: CaseInfo, clock: str, due_at: datetime, ctx: EventContext) -> None:
    """React to a deadline that will be missed soon unless someone acts.

    Called after commit by ``scrm sla check`` (and the worker), once per deadline, when the
    policy's ``warn_before`` window starts.  Not called for a plugin that implements
    ``sla_swept``: it gets the whole sweep in that one call instead.

    :param case: the case.
    :param clock: ``first_response``, ``follow_up`` (a promise made to the customer) or
        ``resolution``.
    :param due_at: the deadline.
    :param ctx: this dispatch's :class:`~scrm.core.dispatch.EventContext` (see "After commit").
    :returns: ``None``.
    """


@hookspec
def sla_breached(case: CaseInfo, clock: str, due_at: datetime, ctx: EventContext) -> None:
    """React to a missed deadline (alert, page someone).

    Called after commit, once per missed deadline, however often the check runs and
    however many workers run it (at least once if the plugin acts outside ``ctx.session``).  The escalation ladder has already acted (see
    ``case_escalated``).  Not called for a plugin that implements ``sla_swept``.

    :param case: the case.
    :param clock: ``first_response``, ``follow_up`` or ``resolution``.
    :param due_at: the deadline that was missed.
    :param ctx: this dispatch's :class:`~scrm.core.dispatch.EventContext` (see "After commit").
    :returns: ``None``.
    """


@hookspec
def sla_swept(alerts: SweptAlerts, ctx: EventContext) -> None:
    """React to every alert of one SLA sweep at once (warnings, breaches, ladder steps).

    Called after commit, once per sweep that fired anything, with the range of the sweep's
    ``sla_alerts`` rows, for a plugin that handles a backlog of a million alerts with a few
    queries rather than a million calls.  A plugin implementing it is not called with
    ``sla_warning``, ``sla_breached`` or ``case_escalated`` for the sweep's alerts (it still
    gets ``case_escalated`` for other escalations); a plugin implementing only those gets
    one call per alert as before.  ``scrm.plugin.db.swept_alerts(ctx.session, alerts,
    kinds)`` reads the alerts, in order, as the per-alert events, in chunks.

    :param alerts: a :class:`~scrm.core.schemas.SweptAlerts`: the first and last alert ids
        (and case event ids) the sweep wrote, and when it ran.
    :param ctx: this dispatch's :class:`~scrm.core.dispatch.EventContext` (see "After commit").
    :returns: ``None``.
    """


@hookspec
def case_escalated(
    case: CaseInfo, level: int, reason: str, summary: str, ctx: EventContext
) -> None:
    """React to a case climbing a rung of the escalation ladder.

    Called after commit, once per rung.  The rung has already acted (reassigned, raised the
    priority) as configured in ``[[cases.escalation]]``; this hook is for notifying people.
    The rungs the SLA sweep climbs go to ``sla_swept`` instead, for a plugin implementing it.

    :param case: the case after the step.
    :param level: the rung (1 is the first).
    :param reason: why (which deadline was missed, or repeated reopening).
    :param summary: what the step did.
    :param ctx: this dispatch's :class:`~scrm.core.dispatch.EventContext` (see "After commit").
    :returns: ``None``.
    """


@hookspec
def reply_delivered(
    case_id: int | None, message: OutboundMessage, result: SendResult, ctx: EventContext
) -> None:
    """React to a reply the channel accepted.

    Called after the outbox has recorded the delivery, once per reply.

    :param case_id: the case the reply answers, if any.
    :param message: what was sent.
    :param result: the channel's id of the sent message.
    :param ctx: this dispatch's :class:`~scrm.core.dispatch.EventContext` (see "After commit").
    :returns: ``None``.
    """


@hookspec
def csat_received(case: CaseInfo, score: int, satisfied: bool, ctx: EventContext) -> None:
    """React to a customer's satisfaction rating.

    Called after commit.  A rating at or below ``cases.csat.reopen_at_or_below`` has already
    reopened the case; the owner's lead should hear about it.

    :param case: the case after the rating.
    :param score: the rating on the configured scale.
    :param satisfied: whether it is above the reopen threshold.
    :param ctx: this dispatch's :class:`~scrm.core.dispatch.EventContext` (see "After commit").
    :returns: ``None``.
    """


@hookspec
def engagement_updated(interaction_id: int, engagement: Engagement, ctx: EventContext) -> None:
    """React to new public metrics of a stored post (likes, shares, replies grew).

    Called after commit, once per stored interaction whose metrics a re-observation (the
    same ``(channel, external_id)`` delivered again) raised.  Counters only grow: each metric
    is the maximum of every observation.  Not called when the first observation and its
    update arrive in the same batch (the interaction is stored with the newest metrics).

    :param interaction_id: the stored interaction.
    :param engagement: its metrics after the update.
    :param ctx: this dispatch's :class:`~scrm.core.dispatch.EventContext` (see "After commit").
    :returns: ``None``.
    """


@hookspec
def spike_detected(
    scope: str,
    metric: str,
    hour: datetime,
    count: int,
    baseline: float,
    p_value: float,
    brand: str | None,
    ctx: EventContext,
) -> None:
    """React to mentions rising far above their recent baseline (alert marketing).

    Called after commit by the marketing module, once per spike: the first anomalous hour
    of a run of consecutive anomalous hours.  The statistical rule is documented in
    ``docs/departments.md``.  Each brand's messages are counted apart, with its own rule.

    :param scope: ``brand`` (the brand's mentions) or ``campaign:<name>``.
    :param metric: ``mentions`` (all inbound messages) or ``negative`` (negative ones).
    :param hour: start of the anomalous hour (UTC).
    :param count: messages in that hour.
    :param baseline: expected messages per hour (mean of the rolling window).
    :param p_value: Poisson upper-tail probability of ``count`` or more under the baseline.
    :param brand: the key of the brand whose messages were counted (``default`` in a
        single-brand installation); None: a campaign of the deployment, counted over every
        brand's messages.
    :param ctx: this dispatch's :class:`~scrm.core.dispatch.EventContext` (see "After commit").
    :returns: ``None``.
    """


@hookspec
def crisis_detected(
    case: CaseInfo, score: float, evidence: dict[str, Any], ctx: EventContext
) -> None:
    """React to a complaint that is going viral (page the crisis owner, brief PR).

    Called after commit, once per case (see "After commit" for what once means), when its
    virality risk first crosses the configured threshold.  The case has already become urgent and been escalated to the
    crisis owner (see ``case_escalated``).

    :param case: the case after escalation.
    :param score: the virality risk in [0, 1].
    :param evidence: the score's components and the figures behind them.
    :param ctx: this dispatch's :class:`~scrm.core.dispatch.EventContext` (see "After commit").
    :returns: ``None``.
    """


@hookspec
def coordinated_detected(case_ids: list[int], evidence: dict[str, Any], ctx: EventContext) -> None:
    """React to a burst of near-duplicate complaints that looks coordinated.

    Called after commit, once per burst.  The cases are flagged ``suspected_coordinated``
    with the evidence and routed to review; they are never deleted or dismissed (a real
    customer may be among them).

    :param case_ids: the cases flagged in this burst.
    :param evidence: accounts, similarity, window, and why each account looks suspicious.
    :param ctx: this dispatch's :class:`~scrm.core.dispatch.EventContext` (see "After commit").
    :returns: ``None``.
    """


@hookspec
def parity_gap(metric: str, social: float, traditional: float, gap: float) -> None:
    """React to traditional-channel customers being served worse (or better) than social ones.

    Called once per metric outside the ``[report] parity_tolerance_percent`` tolerance
    whenever a metrics report is built (``scrm report``,
    :func:`scrm.core.metrics.generate_report`); reports only read, so nothing is committed.
    The definitions of the metrics and of the gap are in ``docs/reports.md``.

    :param metric: the metric's name, e.g. ``first_response_median`` or ``sla_resolution``.
    :param social: its value over the social channels (seconds, a 0..1 ratio or a score).
    :param traditional: its value over the traditional channels (phone, letter, fax,
        walk-in, e-mail), in the same unit.
    :param gap: percent, positive when the traditional group is served worse, negative when
        better: relative to the social value for times and scores, percentage points for
        ratios.
    :returns: ``None``.
    """


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


@hookspec
def interaction_rejected(reject: RejectInfo, ctx: EventContext) -> None:
    """React to a record that could not be ingested (alert, count).

    Called after commit, once per reject; the reject is already stored in the dead-letter
    table and can be replayed with ``scrm rejects replay``.

    :param reject: what was rejected, where, and why.
    :param ctx: this dispatch's :class:`~scrm.core.dispatch.EventContext` (see "After commit").
    :returns: ``None``.
    """


# ---------------------------------------------------------------------------
# Data rights: called when a person's personal data is erased (KVKK, GDPR).
# ---------------------------------------------------------------------------


@hookspec
def erase_customer_data(
    customer_id: int, identities: list[tuple[str, str]], attachments: list[tuple[str, str]]
) -> None:
    """Delete what the plugin keeps about a person outside scrm's tables (files, caches).

    Called by :func:`scrm.core.privacy.erase_customer` inside the erasure's transaction,
    after the database rows have been anonymised and before commit.  Raising aborts the
    erasure: it is rolled back and can be run again, so implementations must be idempotent
    (a file already gone is not an error).

    :param customer_id: the surviving customer record of the person's merge family.
    :param identities: the person's ``(channel, external_id)`` pairs as they were before
        erasure (the database now holds tombstones).
    :param attachments: ``(channel, url)`` of the person's attachments that no other
        customer's message refers to; a plugin deletes the ones it stored.
    :returns: ``None``.
    """
