"""What scrm stores: customers, identities, interactions, cases and their audit trail.

Typed SQLAlchemy 2.0 models.  ``Mapped[str]`` is NOT NULL, ``Mapped[str | None]`` is
nullable; every unique rule and index is declared here and produced by the migrations
(a test proves there is no drift).  Times are timezone-aware and stored in UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scrm.core.db import Base, created_ts, intpk, updated_ts
from scrm.core.tenancy import BrandOptional, BrandOwned, BrandShared

__all__ = [
    "OPEN_CASES",
    "Agent",
    "AlertAck",
    "ApiKey",
    "AuditEntry",
    "Brand",
    "Case",
    "CaseEvent",
    "Customer",
    "CustomerMerge",
    "Department",
    "EventBatch",
    "EventDelivery",
    "FollowUp",
    "Identity",
    "InboxPayload",
    "Incident",
    "Interaction",
    "LabelCorrection",
    "OutboxMessage",
    "PluginState",
    "Reject",
    "SigninFailure",
    "SlaAlert",
    "StoredEvent",
    "WebhookDelivery",
    "WebhookSubscription",
]

OPEN_STATUSES = (
    "new",
    "acknowledged",
    "contacted",
    "investigating",
    "solution_proposed",
    "reopened",
)


class Brand(Base):
    """A brand served by this deployment; what a customer writes to it belongs to it.

    Every database has the default brand (id 1, key ``default``); ``[brands.<key>]`` sections
    add more (see :mod:`scrm.core.brands`).
    """

    __tablename__ = "brands"

    id: Mapped[intpk]
    key: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    timezone: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[created_ts]


class Customer(BrandOwned, Base):
    """One person or organisation, whatever the channel.

    A merge never rewrites history: the merged record points at the survivor through
    ``merged_into_id`` and keeps its identities, interactions and cases; readers follow the
    pointer.  Unmerging clears it (see :mod:`scrm.core.customers`).
    """

    __tablename__ = "customers"

    id: Mapped[intpk]
    display_name: Mapped[str | None] = mapped_column(sa.String(255))
    email: Mapped[str | None] = mapped_column(sa.String(320), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    merged_into_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]

    identities: Mapped[list[Identity]] = relationship(back_populates="customer")


class CustomerMerge(Base):
    """Audit row of a merge: who merged ``source`` into ``target``, when, and its undoing."""

    __tablename__ = "customer_merges"

    id: Mapped[intpk]
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    target_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    actor: Mapped[str] = mapped_column(sa.String(64))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    merged_at: Mapped[created_ts]
    unmerged_at: Mapped[datetime | None]
    unmerged_by: Mapped[str | None] = mapped_column(sa.String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Identity(BrandOwned, Base):
    """A customer's account on one channel: (brand, channel, external_id) is unique.

    The same person writing to two brands is two customers, one per brand.
    """

    __tablename__ = "identities"
    __table_args__ = (sa.UniqueConstraint("brand_id", "channel", "external_id"),)
    __brand_parent__ = ("customer_id", "customers")

    id: Mapped[intpk]
    channel: Mapped[str] = mapped_column(sa.String(32))
    external_id: Mapped[str] = mapped_column(sa.String(255))
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    handle: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    display_name: Mapped[str | None] = mapped_column(sa.String(255))
    email: Mapped[str | None] = mapped_column(sa.String(320), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    followers: Mapped[int | None]
    verified: Mapped[bool | None]
    account_created_at: Mapped[datetime | None]
    linked_by: Mapped[str] = mapped_column(sa.String(32), default="new")
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]

    customer: Mapped[Customer] = relationship(back_populates="identities")


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[created_ts]


class Agent(BrandShared, Base):
    """A person who works cases; belongs to a department, and to one brand or (none) to the
    agency, across brands."""

    __tablename__ = "agents"

    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(sa.String(255))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("departments.id"), index=True)
    role: Mapped[str] = mapped_column(sa.String(16), default="agent")
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    capacity: Mapped[int] = mapped_column(default=10)
    skills: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[created_ts]
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    """The console password's salted hash (:mod:`scrm.core.passwords`); None: none set."""
    timezone: Mapped[str | None] = mapped_column(sa.String(64))
    """The IANA time zone the console shows this agent's times in; None: the configured one."""

    department: Mapped[Department | None] = relationship()


#: The condition of the partial indexes of open cases (``OPEN_STATUSES`` of scrm.core.cases,
#: written out: a query must name the statuses as literals, in this order, for PostgreSQL
#: and SQLite to see that it only asks for rows such an index holds).
OPEN_CASES = (
    "status IN ('new', 'acknowledged', 'contacted', 'investigating', 'solution_proposed', "
    "'reopened')"
)


class Case(BrandOwned, Base):
    """The unit of work: a complaint, a question, a lead... run until the customer is satisfied."""

    __tablename__ = "cases"
    __brand_parent__ = ("customer_id", "customers")
    __table_args__ = (
        # "open cases due soonest" is the SLA board's query; (status, next_due) answers it
        # from the index alone.
        sa.Index("ix_cases_status_next_due", "status", "next_due"),
        # PostgreSQL reads the status index above range by range and then sorts everything
        # breaching; this partial index walks open cases in deadline order and stops at 50.
        sa.Index(
            "ix_cases_open_next_due",
            "next_due",
            "id",
            postgresql_where=sa.text(OPEN_CASES),
        ),
        # The console inbox (scrm.core.worklists): every open case's department, deadline,
        # assignee, wait and brand, so the six view counts are one pass over this narrow
        # index instead of the table, and a department's cases come in deadline order.
        # ``status`` is a column too: SQLite reads an index alone only if it holds every
        # column the query names, the partial index's own condition included.
        sa.Index(
            "ix_cases_open_inbox",
            "department_id",
            "next_due",
            "assignee_id",
            "waiting_since",
            "brand_id",
            "status",
            postgresql_where=sa.text(OPEN_CASES),
            sqlite_where=sa.text(OPEN_CASES),
        ),
        sa.Index("ix_cases_department_id_status", "department_id", "status"),
        sa.Index("ix_cases_customer_id_status", "customer_id", "status"),
        # Metrics: "cases opened in the period" and "cases still open at a given time".
        sa.Index("ix_cases_opened_at", "opened_at"),
        sa.Index("ix_cases_resolved_at", "resolved_at"),
    )

    id: Mapped[intpk]
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id"))
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("departments.id"))
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agents.id"), index=True)
    channel: Mapped[str] = mapped_column(sa.String(32))
    kind: Mapped[str] = mapped_column(sa.String(16))
    category: Mapped[str] = mapped_column(sa.String(64))
    priority: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(24))
    language: Mapped[str | None] = mapped_column(sa.String(16))
    subject: Mapped[str | None] = mapped_column(sa.String(255))
    opened_at: Mapped[datetime]
    last_activity_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    sla_policy: Mapped[str | None] = mapped_column(sa.String(64))
    first_response_due: Mapped[datetime | None]
    follow_up_due: Mapped[datetime | None]
    resolution_due: Mapped[datetime | None]
    next_due: Mapped[datetime | None]
    reopen_count: Mapped[int] = mapped_column(default=0)
    escalation_level: Mapped[int] = mapped_column(default=0)
    waiting_since: Mapped[datetime | None]
    """Set while the case waits on the customer (details asked for, rating asked); SLA clocks that
    pause on the customer stop meanwhile."""
    paused_remaining: Mapped[int | None]
    """Seconds of (business) time left on the resolution clock when it was paused."""
    csat_requested_at: Mapped[datetime | None]
    csat_score: Mapped[int | None]
    csat_at: Mapped[datetime | None]
    incident_id: Mapped[int | None] = mapped_column(sa.ForeignKey("incidents.id"), index=True)
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[updated_ts]

    customer: Mapped[Customer] = relationship()
    department: Mapped[Department | None] = relationship()
    assignee: Mapped[Agent | None] = relationship()


class CaseEvent(Base):
    """Append-only audit row for every change to a case."""

    __tablename__ = "case_events"
    __table_args__ = (sa.Index("ix_case_events_case_id_at", "case_id", "at"),)

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(32))
    from_value: Mapped[str | None] = mapped_column(sa.String(255))
    to_value: Mapped[str | None] = mapped_column(sa.String(255))
    note: Mapped[str | None] = mapped_column(sa.Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    case: Mapped[Case] = relationship()


class Interaction(BrandOwned, Base):
    """One message, inbound or outbound, on any channel; (brand, channel, external_id) is unique."""

    __tablename__ = "interactions"
    __brand_parent__ = ("case_id", "cases")
    __table_args__ = (
        sa.UniqueConstraint("brand_id", "channel", "external_id"),
        sa.Index("ix_interactions_channel_thread_key", "channel", "thread_key"),
        sa.Index("ix_interactions_customer_id_created_at", "customer_id", "created_at"),
        # A case's messages in order; public and direction let the metrics report tell
        # whether a case has a public inbound and a public outbound message from the index.
        sa.Index(
            "ix_interactions_case_id_created_at_public_direction",
            "case_id",
            "created_at",
            "public",
            "direction",
        ),
        sa.Index("ix_interactions_created_at", "created_at"),
    )

    id: Mapped[intpk]
    channel: Mapped[str] = mapped_column(sa.String(32))
    external_id: Mapped[str] = mapped_column(sa.String(255))
    direction: Mapped[str] = mapped_column(sa.String(8))
    public: Mapped[bool]
    identity_id: Mapped[int | None] = mapped_column(sa.ForeignKey("identities.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("customers.id"))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))
    text: Mapped[str] = mapped_column(sa.Text)
    subject: Mapped[str | None] = mapped_column(sa.String(1000))
    language: Mapped[str | None] = mapped_column(sa.String(16))
    created_at: Mapped[datetime]
    received_at: Mapped[created_ts]
    thread_key: Mapped[str | None] = mapped_column(sa.String(255))
    in_reply_to: Mapped[str | None] = mapped_column(sa.String(255))
    kind: Mapped[str | None] = mapped_column(sa.String(16))
    category: Mapped[str | None] = mapped_column(sa.String(64))
    sentiment: Mapped[str | None] = mapped_column(sa.String(8))
    sentiment_score: Mapped[float | None]
    urgency: Mapped[list[Any]] = mapped_column(default=list)
    reach: Mapped[float | None]
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    engagement: Mapped[dict[str, Any] | None]
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    raw: Mapped[dict[str, Any] | None]
    answer_url: Mapped[str | None] = mapped_column(sa.String(2048))
    """Where a reply must be given when scrm cannot post there (a blog post's URL)."""
    account: Mapped[str | None] = mapped_column(sa.String(255))
    """The brand's own account the message arrived at or was sent from, as its channel
    writes it (an X user id, a page id, a mailbox address); a reply goes out from it."""


class Incident(BrandOwned, Base):
    """Several cases with one cause (an outage): linked, answered together."""

    __tablename__ = "incidents"
    __table_args__ = (sa.UniqueConstraint("brand_id", "name"),)

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(sa.String(255))
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    created_at: Mapped[created_ts]


class FollowUp(BrandOwned, Base):
    """A promise the brand made to a customer ("DM us your details", "we will call you"), with a due time.

    Kept when private contact or a state change happens on the case before it is due; broken
    otherwise, which is an SLA breach like any other.
    """

    __tablename__ = "follow_ups"
    __brand_parent__ = ("case_id", "cases")
    __table_args__ = (
        sa.Index("ix_follow_ups_status_due_at", "status", "due_at"),
        # Metrics: the promises made in a period.
        sa.Index("ix_follow_ups_created_at", "created_at"),
    )

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    interaction_id: Mapped[int | None] = mapped_column(sa.ForeignKey("interactions.id"))
    kind: Mapped[str] = mapped_column(sa.String(24))
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    actor: Mapped[str] = mapped_column(sa.String(64))
    evidence: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    case: Mapped[Case] = relationship()


class SlaAlert(Base):
    """One SLA warning, breach or escalation step; unique, so each fires exactly once.

    The key is (case, clock, round, kind, level), not the due time: a deadline that moves
    (a paused resolution clock resumed after its deadline) is the same deadline and does not
    fire again; a new one (a promise made after the last contact) starts a new ``round``.
    """

    __tablename__ = "sla_alerts"
    __table_args__ = (sa.UniqueConstraint("case_id", "clock", "round", "kind", "level"),)

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    clock: Mapped[str] = mapped_column(sa.String(16))
    round: Mapped[int] = mapped_column(default=0, server_default="0")
    """Which deadline of the clock: 0 for the first response and resolution (one each per case),
    the id of the earliest promise still pending for follow-up."""
    due_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(sa.String(16))
    level: Mapped[int] = mapped_column(default=0)
    fired_at: Mapped[datetime]


class OutboxMessage(BrandOwned, Base):
    """A reply waiting for, or past, delivery by its channel.

    Written in the same transaction as the case change that caused it; delivered afterwards.
    ``idempotency_key`` is unique, so queuing the same reply twice stores it once.
    """

    __tablename__ = "outbox"
    __brand_parent__ = ("case_id", "cases")
    __table_args__ = (sa.Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[intpk]
    idempotency_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    channel: Mapped[str] = mapped_column(sa.String(32))
    recipient: Mapped[str | None] = mapped_column(sa.String(255))
    public: Mapped[bool]
    text: Mapped[str] = mapped_column(sa.Text)
    subject: Mapped[str | None] = mapped_column(sa.String(1000))
    in_reply_to: Mapped[str | None] = mapped_column(sa.String(255))
    thread_key: Mapped[str | None] = mapped_column(sa.String(255))
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    template: Mapped[str | None] = mapped_column(sa.String(128))
    playbook_version: Mapped[str | None] = mapped_column(sa.String(64))
    actor: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    external_id: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[created_ts]
    sent_at: Mapped[datetime | None]
    account: Mapped[str | None] = mapped_column(sa.String(255))
    """The brand's account the reply goes out from: when queued, the one the customer's
    message arrived at (None: not known); once the channel accepted it, the one it left from."""


class LabelCorrection(Base):
    """An agent's correction of a classification; training data for the learned classifier."""

    __tablename__ = "label_corrections"

    id: Mapped[intpk]
    interaction_id: Mapped[int] = mapped_column(sa.ForeignKey("interactions.id"), index=True)
    actor: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str | None] = mapped_column(sa.String(16))
    category: Mapped[str | None] = mapped_column(sa.String(64))
    sentiment: Mapped[str | None] = mapped_column(sa.String(8))
    language: Mapped[str | None] = mapped_column(sa.String(16))
    urgency: Mapped[list[Any] | None]
    previous: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[created_ts]


class AuditEntry(BrandOptional, Base):
    """An administrative action (keys, webhooks, merges, erasures, configuration), without secrets."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_at", "at"),)

    id: Mapped[intpk]
    at: Mapped[created_ts]
    actor: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(64))
    target_type: Mapped[str | None] = mapped_column(sa.String(32))
    target_id: Mapped[str | None] = mapped_column(sa.String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SigninFailure(Base):
    """A failed password sign-in to the console, kept for the window of the rate limit
    (:mod:`scrm.core.signin_limit`): shared by every server process through the database."""

    __tablename__ = "signin_failures"
    __table_args__ = (
        sa.Index("ix_signin_failures_username_at", "username", "at"),
        sa.Index("ix_signin_failures_address_at", "address", "at"),
    )

    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(sa.String(64))
    """The username as typed (lower case): known or not, it is counted the same."""
    address: Mapped[str] = mapped_column(sa.String(64))
    """The client's address as the server saw it."""
    at: Mapped[datetime]


class ApiKey(BrandOptional, Base):
    """A REST API key; only its hash is stored."""

    __tablename__ = "api_keys"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(sa.String(128))
    prefix: Mapped[str] = mapped_column(sa.String(16), index=True)
    key_hash: Mapped[str] = mapped_column(sa.String(128), unique=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    departments: Mapped[list[Any]] = mapped_column(default=list)
    agent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agents.id"))
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[created_ts]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class WebhookSubscription(BrandOptional, Base):
    """An outgoing webhook: events are POSTed to ``url``, signed with a secret derived from the server key."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[intpk]
    url: Mapped[str] = mapped_column(sa.String(2048))
    event_types: Mapped[list[Any]] = mapped_column(default=list)
    description: Mapped[str | None] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[created_ts]


class WebhookDelivery(Base):
    """One event for one subscriber, delivered with retries like the outbox."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[intpk]
    subscription_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_subscriptions.id"), index=True
    )
    event_type: Mapped[str] = mapped_column(sa.String(64))
    idempotency_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    response_status: Mapped[int | None]
    created_at: Mapped[created_ts]
    delivered_at: Mapped[datetime | None]


class InboxPayload(BrandOptional, Base):
    """A verified webhook delivery stored before it is acknowledged, processed right after.

    ``status`` is ``pending`` (``next_attempt_at``: when it is due again after a failure,
    NULL for now), ``processed``, or ``dead``: parked after too many failed attempts, until
    an operator retries it.
    """

    __tablename__ = "inbox"
    __table_args__ = (
        sa.Index("ix_inbox_status_received_at", "status", "received_at"),
        # The same delivery redelivered is stored once.
        sa.UniqueConstraint("channel", "body_sha256"),
    )

    id: Mapped[intpk]
    channel: Mapped[str] = mapped_column(sa.String(32))
    received_at: Mapped[created_ts]
    body: Mapped[str] = mapped_column(sa.Text)
    body_sha256: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(sa.Text)


class Reject(BrandOptional, Base):
    """A record that could not be ingested, kept exactly as received for inspection and replay."""

    __tablename__ = "rejects"
    __table_args__ = (
        sa.Index("ix_rejects_status_created_at", "status", "created_at"),
        # Ingesting the same bad file twice must not keep the same reject twice.
        sa.Index("ix_rejects_fingerprint", "fingerprint"),
    )

    id: Mapped[intpk]
    source: Mapped[str] = mapped_column(sa.String(1024))
    position: Mapped[int | None]
    channel: Mapped[str | None] = mapped_column(sa.String(32))
    format: Mapped[str] = mapped_column(sa.String(16), default="native")
    field: Mapped[str | None] = mapped_column(sa.String(255))
    reason: Mapped[str] = mapped_column(sa.Text)
    payload: Mapped[str] = mapped_column(sa.Text)
    """The record as received, or a readable copy (U+FFFD) when ``payload_bytes`` is set."""
    payload_bytes: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    """The exact bytes received, when text cannot hold them (not UTF-8, NUL, lone surrogate)."""
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    """sha256 of source, position and payload."""
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]


class PluginState(Base):
    """Small persisted state a plugin needs between runs (poll cursors, UIDVALIDITY)."""

    __tablename__ = "plugin_state"
    __table_args__ = (sa.UniqueConstraint("plugin", "key"),)

    id: Mapped[intpk]
    plugin: Mapped[str] = mapped_column(sa.String(64))
    key: Mapped[str] = mapped_column(sa.String(255))
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[updated_ts]


class EventBatch(Base):
    """The domain events one transaction wrote (a unit of dispatch).

    ``dispatched_at`` is set once every consumer has handled them; until then the worker's
    ``events`` task dispatches them to the consumers that have not.
    """

    __tablename__ = "event_batches"

    id: Mapped[intpk]
    created_at: Mapped[datetime]
    dispatched_at: Mapped[datetime | None] = mapped_column(index=True)


class StoredEvent(Base):
    """One domain event (:mod:`scrm.core.events`), in the order its transaction wrote it."""

    __tablename__ = "events"
    __table_args__ = (
        sa.UniqueConstraint("batch_id", "position"),
        # The console's alert feed reads the few alert types, newest first.
        sa.Index("ix_events_type_id", "type", "id"),
    )

    id: Mapped[intpk]
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("event_batches.id", ondelete="CASCADE"))
    position: Mapped[int]
    type: Mapped[str] = mapped_column(sa.String(64))
    """The event class's hook name (``case_opened``)."""
    payload: Mapped[str] = mapped_column(sa.Text)


class AlertAck(Base):
    """An agent acknowledged an alert: a stored crisis, spike or coordinated-burst event."""

    __tablename__ = "alert_acks"

    event_id: Mapped[int] = mapped_column(
        sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    actor: Mapped[str] = mapped_column(sa.String(64))
    at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(sa.String(500))


class EventDelivery(Base):
    """A consumer (a plugin) handled a batch of events: it never gets them again.

    Written in the consumer's own transaction, with what the consumer wrote through its
    hook context, so that effects in the database happen exactly once per consumer.
    """

    __tablename__ = "event_deliveries"

    batch_id: Mapped[int] = mapped_column(
        sa.ForeignKey("event_batches.id", ondelete="CASCADE"), primary_key=True
    )
    consumer: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    handled_at: Mapped[datetime]

