"""The ingest pipeline: interactions in, customers, cases and SLA clocks out.

``InboundInteraction -> dedupe (channel, external_id) -> identity -> customer -> classify
(hook) -> route (hook) -> attach to an open case by reply, thread or customer+topic, or
open one -> SLA deadlines (hook) -> commit -> after-commit hooks``

Work is set-based per batch: one query finds all duplicates of a batch, one all its known
identities, one all the cases its replies and threads point at; rows are inserted with
executemany.  One transaction per batch; bad records become rejects in the same
transaction, so nothing is lost and good records next to a bad one are stored.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import flag_modified

from scrm.core import assignment, loop
from scrm.core import cases as case_ops
from scrm.core.agents import ensure_departments
from scrm.core.config import CasesConfig
from scrm.core.customers import ResolvedAuthor, resolve_authors, root_ids
from scrm.core.db import chunks, group_by_channel, insert_rows, utcnow
from scrm.core.models import Case, Customer, Department, Interaction, Reject
from scrm.core.playbooks import PlaybookSet
from scrm.core.plugins import Hooks
from scrm.core.privacy import tombstones_of
from scrm.core.schemas import (
    CaseInfo,
    CaseStatus,
    Classification,
    CustomerInfo,
    Direction,
    Engagement,
    InboundInteraction,
    Kind,
    Priority,
    RejectInfo,
    RouteDecision,
    SlaPolicy,
    StoredInteraction,
)

__all__ = ["IngestReport", "Origin", "Pipeline", "Rejected"]

log = logging.getLogger(__name__)

_KEEP_REJECTS = 100  # rejects listed in a report; all of them are stored


@dataclass(frozen=True)
class Origin:
    """Where a record came from, so that a failure can be kept exactly as received."""

    source: str
    position: int | None = None
    payload: str | None = None
    format: str = "interactions"
    channel: str | None = None
    reject_id: int | None = None
    """Set when the record is a replay of a stored reject."""


@dataclass(frozen=True)
class Rejected:
    """A record that failed before reaching the pipeline (parse or validation error)."""

    origin: Origin
    reason: str
    field: str | None = None


Record = tuple[InboundInteraction, Origin] | Rejected


@dataclass
class IngestReport:
    stored: int = 0
    duplicates: int = 0
    updated: int = 0
    rejected: int = 0
    cases_opened: int = 0
    cases_updated: int = 0
    replayed: int = 0
    rejects: list[RejectInfo] = field(default_factory=list)

    def add(self, other: IngestReport) -> None:
        for name in (
            "stored",
            "duplicates",
            "updated",
            "rejected",
            "cases_opened",
            "cases_updated",
            "replayed",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        room = _KEEP_REJECTS - len(self.rejects)
        self.rejects.extend(other.rejects[:room])

    def as_dict(self) -> dict[str, Any]:
        return {
            "stored": self.stored,
            "duplicates": self.duplicates,
            "updated": self.updated,
            "rejected": self.rejected,
            "cases_opened": self.cases_opened,
            "cases_updated": self.cases_updated,
            "replayed": self.replayed,
        }


def newest_engagement(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Combine two observations of a post's metrics: counters only grow, so keep each maximum.

    Re-reading an old archive after a newer observation therefore never rolls metrics back.
    """
    if not old:
        return new
    out = dict(old)
    for k, v in new.items():
        if v is not None and (out.get(k) is None or v > out[k]):
            out[k] = v
    return out


def _batched(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for r in records:
        batch.append(r)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class Pipeline:
    """Ingest records in batches, one transaction each.

    :param hooks: the typed hook facade.
    :param session_factory: makes sessions on the application's engine.
    :param batch_size: records per transaction (memory stays bounded by it).
    :param attach_window: how recent a customer's open case must be to absorb a new message
        of the same category.
    """

    def __init__(
        self,
        hooks: Hooks,
        session_factory: sessionmaker[Session],
        *,
        batch_size: int,
        attach_window: Any,
        departments: Iterable[tuple[str, str]] = (),
        assignment: dict[str, str] | None = None,
        cases: CasesConfig | None = None,
        playbooks: Callable[[], PlaybookSet] | None = None,
    ) -> None:
        self.cases = cases or CasesConfig()
        self.playbooks = playbooks
        self.hooks = hooks
        self.session_factory = session_factory
        self.batch_size = batch_size
        self.attach_window = attach_window
        self.department_names = dict(departments)
        self.assignment = assignment or {}

    def run(self, records: Iterable[Record]) -> IngestReport:
        report = IngestReport()
        for batch in _batched(records, self.batch_size):
            report.add(self._run_batch(batch))
        return report

    def _run_batch(self, batch: list[Record]) -> IngestReport:
        for attempt in range(3):
            try:
                with self.session_factory() as session, session.begin():
                    outcome = _BatchWriter(self, session).write(batch)
                break
            except (IntegrityError, OperationalError) as exc:
                # Another writer stored some of these messages between our duplicate check
                # and our insert (PostgreSQL, several workers), or the database was busy.
                # Redo the batch: the next pass sees those rows as duplicates.
                if attempt == 2:
                    raise
                log.warning("ingest batch retried after %s", type(exc).__name__)
        for stored in outcome.stored:
            self.hooks.notify("interaction_stored", interaction=stored)
        for info in outcome.opened:
            self.hooks.notify("case_opened", case=info)
        for hook, kwargs in outcome.hook_calls:
            self.hooks.notify(hook, **kwargs)
        self.hooks.notify("batch_committed", interactions=outcome.stored)
        for reject in outcome.rejects:
            self.hooks.notify("interaction_rejected", reject=reject)
        return outcome.report


@dataclass
class _Outcome:
    report: IngestReport = field(default_factory=IngestReport)
    stored: list[StoredInteraction] = field(default_factory=list)
    opened: list[CaseInfo] = field(default_factory=list)
    hook_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    rejects: list[RejectInfo] = field(default_factory=list)
    """Every reject of the batch (the report lists only the first ones)."""
    """Loop effects (transitions, ratings, escalations) to report after commit, in order."""


@dataclass(frozen=True)
class _Decision:
    """What the classify and route hooks said of an inbound message."""

    cls: Classification
    route: RouteDecision


class _BatchWriter:
    """Everything one batch does inside its transaction."""

    def __init__(self, pipeline: Pipeline, session: Session) -> None:
        self.p = pipeline
        self.session = session
        self.hooks = pipeline.hooks
        self.out = _Outcome()
        self.failures: list[tuple[Origin, str, str | None, InboundInteraction | None]] = []
        self.departments: dict[str, int] = {
            code: dep_id
            for code, dep_id in session.execute(sa.select(Department.code, Department.id))
        }

    # -- entry point -------------------------------------------------------------------

    def write(self, batch: list[Record]) -> _Outcome:
        items: list[tuple[InboundInteraction, Origin]] = []
        channels = self.hooks.channels
        for rec in batch:
            if isinstance(rec, Rejected):
                self.failures.append((rec.origin, rec.reason, rec.field, None))
            elif rec[0].channel not in channels:
                # A misspelt channel would otherwise become a channel of its own.
                known = ", ".join(sorted(channels))
                reason = (
                    f"no installed plugin provides channel {rec[0].channel!r}; channels: {known}"
                )
                self.failures.append((rec[1], reason, "channel", rec[0]))
            else:
                items.append(rec)
        fresh = self._dedupe(items)
        if fresh:
            self._store(fresh)
        self._keep_rejects()
        return self.out

    # -- steps ----------------------------------------------------------------------------

    def _dedupe(
        self, items: list[tuple[InboundInteraction, Origin]]
    ) -> list[tuple[InboundInteraction, Origin]]:
        by_channel = group_by_channel({(it.channel, it.external_id) for it, _ in items})
        existing: dict[tuple[str, str], tuple[int, Any]] = {}
        for ch, exts in by_channel.items():
            # A platform redelivering an erased message finds its tombstone: a duplicate.
            erased = tombstones_of(self.session, ch, exts)
            for part in chunks(sorted(set(exts) | set(erased))):
                rows = self.session.execute(
                    sa.select(
                        Interaction.external_id, Interaction.id, Interaction.engagement
                    ).where(Interaction.channel == ch, Interaction.external_id.in_(part))
                )
                for ext, iid, eng in rows:
                    existing[(ch, erased.get(ext, ext))] = (iid, eng)
        fresh: dict[tuple[str, str], tuple[InboundInteraction, Origin]] = {}
        engagement_updates: dict[int, dict[str, Any]] = {}
        for it, origin in items:
            key = (it.channel, it.external_id)
            if key in existing or key in fresh:
                self.out.report.duplicates += 1
                if origin.reject_id is not None:
                    self._mark_replayed(origin.reject_id)
                if it.engagement is None:
                    continue
                if key in fresh:
                    first, first_origin = fresh[key]
                    before = first.engagement.model_dump() if first.engagement else None
                    merged = newest_engagement(before, it.engagement.model_dump())
                    if merged != before:
                        update = {"engagement": Engagement.model_validate(merged)}
                        fresh[key] = (first.model_copy(update=update), first_origin)
                        self.out.report.updated += 1
                else:
                    iid, stored = existing[key]
                    merged = newest_engagement(
                        engagement_updates.get(iid, stored), it.engagement.model_dump()
                    )
                    if merged != stored:
                        engagement_updates[iid] = merged
                continue
            fresh[key] = (it, origin)
        if engagement_updates:
            self.session.execute(
                sa.update(Interaction),
                [{"id": iid, "engagement": eng} for iid, eng in engagement_updates.items()],
            )
            self.out.report.updated += len(engagement_updates)
            for iid, eng in engagement_updates.items():
                self.out.hook_calls.append(
                    (
                        "engagement_updated",
                        {"interaction_id": iid, "engagement": Engagement.model_validate(eng)},
                    )
                )
        return list(fresh.values())

    def _store(self, fresh: list[tuple[InboundInteraction, Origin]]) -> None:
        s = self.session
        pairs = []
        for it, _ in fresh:
            person = it.author if it.direction is Direction.INBOUND else it.recipient
            if person is not None:
                pairs.append((it, person))
        resolved, errors = resolve_authors(s, self.hooks, pairs)

        def person_key(it: InboundInteraction) -> tuple[str, str] | None:
            person = it.author if it.direction is Direction.INBOUND else it.recipient
            return (it.channel, person.external_id) if person is not None else None

        customers = _customer_infos(s, {r.customer_id for r in resolved.values()})
        # Classify and route every inbound message first (no database work), so that the
        # case context loads only the open cases of the topics this batch talks about.
        ok: list[tuple[InboundInteraction, Origin, ResolvedAuthor | None, _Decision | None]] = []
        for it, origin in fresh:
            k = person_key(it)
            if k is not None and k in errors:
                self.failures.append((origin, errors[k], "customer_id", it))
                continue
            ra = resolved.get(k) if k is not None else None
            decision = None
            if it.direction is Direction.INBOUND:
                try:
                    label = self.hooks.classify(it)
                    route = self.hooks.route(
                        it, label, customers.get(ra.customer_id) if ra else None
                    )
                except Exception as exc:  # a plugin failed: keep the record, name the error
                    self._plugin_failed(it, origin, exc)
                    continue
                decision = _Decision(label, route)
            ok.append((it, origin, ra, decision))

        topics = {
            (ra.customer_id, d.cls.category)
            for it, _, ra, d in ok
            if ra is not None and d is not None and d.route.department is not None
        }
        ctx = _CaseContext(s, [(it, o) for it, o, _, _ in ok], topics, self.p.attach_window)
        rows: list[dict[str, Any]] = []
        results: list[
            tuple[InboundInteraction, Classification | None, Case | None, int | None]
        ] = []
        # Nothing is flushed until every message is placed: the batch's cases and promises
        # are in memory (_CaseContext), and one flush writes them together afterwards.
        with s.no_autoflush:
            for it, origin, ra, decision in ok:
                cls = decision.cls if decision is not None else None
                try:
                    if decision is not None:
                        case = self._place_inbound(ctx, it, ra, decision.cls, decision.route)
                        customer_id = ra.customer_id if ra else None
                    else:
                        case, customer_id = self._place_outbound(ctx, it, ra)
                except Exception as exc:  # a plugin failed: keep the record, name the error
                    self._plugin_failed(it, origin, exc)
                    continue
                ctx.remember(it, case, customer_id)
                results.append((it, cls, case, customer_id))
                if origin.reject_id is not None:
                    self._mark_replayed(origin.reject_id)
                rows.append(self._row(it, ra, customer_id, cls))
            _uniform_updates(ctx.touched - set(ctx.new_cases))
        s.flush()
        for case in ctx.new_cases:
            case_ops.add_event(
                s,
                case,
                "opened",
                actor="system",
                at=case.opened_at,
                to_value=case.status,
                note=f"opened from {case.channel}",
                data={"pool": ctx.pools.get(id(case))} if ctx.pools.get(id(case)) else None,
            )
        if ctx.new_cases:
            assignment.assign_new(
                s,
                [(c, ctx.pools.get(id(c))) for c in ctx.new_cases],
                strategy_for=self._strategy,
                at=utcnow(),
            )
        for case in ctx.new_cases:
            self.out.opened.append(case_ops.case_info(case, self._code(case.department_id)))
        for row, (_, _, case, _) in zip(rows, results, strict=True):
            row["case_id"] = case.id if case is not None else None
        if rows:
            ids = insert_rows(s, Interaction, rows)
            for iid, (it, cls, case, customer_id) in zip(ids, results, strict=True):
                self.out.stored.append(
                    StoredInteraction(
                        id=iid,
                        channel=it.channel,
                        external_id=it.external_id,
                        direction=it.direction,
                        customer_id=customer_id,
                        case_id=case.id if case is not None else None,
                        created_at=it.created_at,
                        classification=cls,
                    )
                )
        self.out.report.stored += len(rows)
        self.out.report.cases_opened += len(ctx.new_cases)
        self.out.report.cases_updated += len(ctx.touched - set(ctx.new_cases))
        if self.p.cases.auto_acknowledge and self.p.playbooks is not None:
            self._acknowledge(ctx.new_cases)

    def _acknowledge(self, new_cases: list[Case]) -> None:
        """Queue the playbook's public acknowledgment for each new case (cases.auto_acknowledge)."""
        from scrm.core.workflow import queue_reply  # the workflow builds on the pipeline

        assert self.p.playbooks is not None
        playbooks = self.p.playbooks()
        for case in new_cases:
            try:
                _, new = queue_reply(
                    self.session,
                    case,
                    playbooks=playbooks,
                    now=utcnow(),
                    actor="auto-ack",
                    template="acknowledge",
                    idempotency_key=f"ack:{case.id}",
                )
            except ValueError as exc:
                log.warning("no auto-acknowledgment for case %s: %s", case.id, exc)
                continue
            if new and case.status == CaseStatus.NEW:
                change = case_ops.transition(
                    self.session,
                    case,
                    CaseStatus.ACKNOWLEDGED,
                    actor="auto-ack",
                    note="acknowledgment queued automatically",
                )
                self.out.hook_calls.append(("case_transitioned", change.hook_kwargs()))

    def _policy(self, case: Case) -> SlaPolicy | None:
        return self.hooks.choose_sla(case_ops.case_info(case, self._code(case.department_id)))

    def _on_customer_message(
        self, ctx: _CaseContext, case: Case, it: InboundInteraction, cls: Classification
    ) -> None:
        effects = loop.on_customer_message(
            self.session,
            case,
            cls,
            text=it.text,
            public=it.public,
            at=it.created_at,
            policy=self._policy(case),
            config=self.p.cases,
            promises=ctx.promises,
        )
        self.out.hook_calls.extend(effects.settle(self.session, self.p.cases, it.created_at))

    def _row(
        self,
        it: InboundInteraction,
        ra: ResolvedAuthor | None,
        customer_id: int | None,
        cls: Classification | None,
    ) -> dict[str, Any]:
        return {
            "channel": it.channel,
            "external_id": it.external_id,
            "direction": it.direction.value,
            "public": it.public,
            "identity_id": ra.identity_id if ra and it.direction is Direction.INBOUND else None,
            "customer_id": customer_id,
            "text": it.text,
            "subject": it.subject,
            "language": cls.language if cls else it.language,
            "created_at": it.created_at,
            "thread_key": it.thread_key,
            "in_reply_to": it.in_reply_to,
            "kind": cls.kind.value if cls else None,
            "category": cls.category if cls else None,
            "sentiment": cls.sentiment if cls else None,
            "sentiment_score": cls.sentiment_score if cls else None,
            "urgency": list(cls.urgency) if cls else [],
            "reach": cls.reach if cls else None,
            "labels": cls.model_dump(mode="json") if cls else {},
            "engagement": it.engagement.model_dump() if it.engagement else None,
            "attachments": [a.model_dump() for a in it.attachments],
            "raw": it.raw,
        }

    def _plugin_failed(self, it: InboundInteraction, origin: Origin, exc: Exception) -> None:
        log.exception("ingest of %s/%s failed", it.channel, it.external_id)
        self.failures.append((origin, f"processing failed: {type(exc).__name__}: {exc}", None, it))

    def _department_id(self, code: str) -> int:
        if code not in self.departments:
            name = self.p.department_names.get(code, code)
            self.departments.update(ensure_departments(self.session, [(code, name)]))
        return self.departments[code]

    def _strategy(self, department_id: int) -> str:
        return self.p.assignment.get(self._code(department_id) or "", "least_open")

    def _code(self, department_id: int | None) -> str | None:
        return next((c for c, i in self.departments.items() if i == department_id), None)

    def _place_inbound(
        self,
        ctx: _CaseContext,
        it: InboundInteraction,
        ra: ResolvedAuthor | None,
        cls: Classification,
        route: RouteDecision,
    ) -> Case | None:
        linked = ctx.linked_case(it)
        if it.noise is not None:
            # An auto-reply or a bounce joins its thread for the record but is no customer
            # activity: it neither reopens, nor resumes clocks, nor opens a case.
            return linked
        if linked is not None and linked.status != CaseStatus.CLOSED:
            ctx.touch(linked, it.created_at)
            self._on_customer_message(ctx, linked, it, cls)
            return linked
        if route.department is None or ra is None:
            return None
        dep_id = self._department_id(route.department)
        topical = ctx.open_case_of(
            ra.customer_id, cls.category, dep_id, it.created_at, self.p.attach_window
        )
        if topical is not None:
            ctx.touch(topical, it.created_at)
            self._on_customer_message(ctx, topical, it, cls)
            return topical
        kind = cls.kind if cls.kind is not Kind.OTHER else Kind.QUESTION
        case = Case(
            customer_id=ra.customer_id,
            department_id=dep_id,
            channel=it.channel,
            kind=kind.value,
            category=cls.category,
            priority=route.priority.value,
            status=CaseStatus.NEW.value,
            language=cls.language,
            subject=(it.subject or it.text)[:255],
            opened_at=it.created_at,
            last_activity_at=it.created_at,
            reopen_count=0,
            version=1,
        )
        info = CaseInfo(
            id=None,
            customer_id=case.customer_id,
            channel=case.channel,
            department=route.department,
            kind=kind,
            category=case.category,
            priority=Priority(case.priority),
            status=CaseStatus.NEW,
            language=case.language,
            opened_at=case.opened_at,
        )
        case_ops.apply_sla(case, self.hooks.choose_sla(info))
        self.session.add(case)
        ctx.add_new(case, route.pool)
        return case

    def _place_outbound(
        self, ctx: _CaseContext, it: InboundInteraction, ra: ResolvedAuthor | None
    ) -> tuple[Case | None, int | None]:
        case = ctx.linked_case(it)
        if case is not None and case.status == CaseStatus.CLOSED:
            case = None
        customer_id = ctx.parent_customer(it) or (ra.customer_id if ra else None)
        if case is not None:
            customer_id = customer_id or case.customer_id
            ctx.touch(case, it.created_at)
            if case.first_response_at is None:
                case.first_response_at = it.created_at
                case.next_due = case_ops.sla.next_due(case)
                case_ops.add_event(
                    self.session,
                    case,
                    "responded",
                    actor=f"{it.channel}:{it.author.handle or it.author.external_id}",
                    at=it.created_at,
                    note="first response (" + ("public" if it.public else "private") + ")",
                )
            loop.on_brand_message(
                self.session,
                case,
                text=it.text,
                public=it.public,
                at=it.created_at,
                actor=f"{it.channel}:{it.author.handle or it.author.external_id}",
                policy=self._policy(case),
                promises=ctx.promises,
            )
        return case, customer_id

    # -- rejects ---------------------------------------------------------------------------

    def _mark_replayed(self, reject_id: int) -> None:
        self.session.execute(
            sa.update(Reject)
            .where(Reject.id == reject_id)
            .values(status="replayed", updated_at=utcnow())
        )
        self.out.report.replayed += 1

    def _keep_rejects(self) -> None:
        rid: int | None
        for origin, reason, fld, it in self.failures:
            payload = (
                origin.payload
                if origin.payload is not None
                else (it.model_dump_json() if it else "")
            )
            fmt = origin.format if origin.payload is not None else "interactions"
            if origin.reject_id is not None:
                self.session.execute(
                    sa.update(Reject)
                    .where(Reject.id == origin.reject_id)
                    .values(
                        reason=reason, field=fld, attempts=Reject.attempts + 1, updated_at=utcnow()
                    )
                )
                rid = origin.reject_id
            else:
                fingerprint = hashlib.sha256(
                    f"{origin.source}\0{origin.position}\0{payload}".encode()
                ).hexdigest()
                rid = self.session.scalar(
                    sa.select(Reject.id).where(
                        Reject.fingerprint == fingerprint, Reject.status == "pending"
                    )
                )
                if rid is not None:
                    self.session.execute(
                        sa.update(Reject)
                        .where(Reject.id == rid)
                        .values(
                            reason=reason,
                            field=fld,
                            attempts=Reject.attempts + 1,
                            updated_at=utcnow(),
                        )
                    )
                else:
                    rid = self.session.scalar(
                        sa.insert(Reject)
                        .returning(Reject.id)
                        .values(
                            source=origin.source,
                            position=origin.position,
                            channel=origin.channel or (it.channel if it else None),
                            format=fmt,
                            field=fld,
                            reason=reason,
                            payload=payload,
                            fingerprint=fingerprint,
                        )
                    )
            self.out.report.rejected += 1
            info = RejectInfo(
                id=rid,
                source=origin.source,
                position=origin.position,
                channel=origin.channel or (it.channel if it else None),
                field=fld,
                reason=reason,
                payload=payload,
            )
            self.out.rejects.append(info)
            if len(self.out.report.rejects) < _KEEP_REJECTS:
                self.out.report.rejects.append(info)


class _CaseContext:
    """The cases a batch can attach to: loaded in a few queries, updated as the batch goes."""

    def __init__(
        self,
        session: Session,
        items: list[tuple[InboundInteraction, Origin]],
        topics: set[tuple[int, str]],
        window: timedelta,
    ) -> None:
        self.session = session
        self.new_cases: list[Case] = []
        self.pools: dict[int, str] = {}
        """Routing pool of each new case (by object id), for assignment."""
        self.touched: set[Case] = set()
        self.by_message: dict[tuple[str, str], tuple[int | None, int | None]] = {}
        self.case_by_thread: dict[tuple[str, str], int] = {}
        self.batch_cases: dict[int, Case] = {}
        self._new_by_message: dict[tuple[str, str], Case] = {}
        self._new_by_thread: dict[tuple[str, str], Case] = {}

        parents = {(it.channel, it.in_reply_to) for it, _ in items if it.in_reply_to}
        threads = {(it.channel, it.thread_key) for it, _ in items if it.thread_key}
        for ch, exts in group_by_channel(parents).items():
            for ext, case_id, cust in session.execute(
                sa.select(
                    Interaction.external_id, Interaction.case_id, Interaction.customer_id
                ).where(Interaction.channel == ch, Interaction.external_id.in_(exts))
            ):
                self.by_message[(ch, ext)] = (case_id, cust)
        for ch, keys in group_by_channel(threads).items():
            for key, case_id in session.execute(
                sa.select(Interaction.thread_key, Interaction.case_id)
                .where(
                    Interaction.channel == ch,
                    Interaction.thread_key.in_(keys),
                    Interaction.case_id.is_not(None),
                )
                .order_by(Interaction.created_at, Interaction.id)
            ):
                if key is not None and case_id is not None:
                    self.case_by_thread[(ch, key)] = case_id
        wanted_ids = (
            {c for c, _ in self.by_message.values() if c}
            | set(self.case_by_thread.values())
            | {it.case_id for it, _ in items if it.case_id is not None}
        )
        wheres: list[sa.ColumnElement[bool]] = [
            Case.id.in_(part) for part in chunks(sorted(wanted_ids))
        ]
        # Besides those, only the open cases that can absorb a message of this batch by
        # customer and topic: of its (customer, category) pairs, and recent enough.
        since = min((it.created_at for it, _ in items), default=None)
        if since is not None:
            wheres += [
                sa.and_(
                    # The customer list lets the database use ix_cases_customer_id_status.
                    Case.customer_id.in_(sorted({c for c, _ in part})),
                    sa.tuple_(Case.customer_id, Case.category).in_(part),
                    Case.status.in_(case_ops.OPEN_STATUSES),
                    Case.last_activity_at >= since - window,
                )
                for part in chunks(sorted(topics))
            ]
        found: dict[int, Case] = {}
        for where in wheres:
            for case in session.scalars(sa.select(Case).where(where)):
                found.setdefault(case.id, case)
        loaded = list(found.values())
        self.batch_cases = {c.id: c for c in loaded}
        self.roots = root_ids(session, {c.customer_id for c in loaded})
        # Open cases by (customer, category, department): the customer+topic lookup is one
        # dictionary access per message, not a scan of the batch's cases.
        self._topical: dict[tuple[int, str, int | None], list[Case]] = defaultdict(list)
        for case in loaded:
            self._index(case)
        self.promises = loop.PromiseBook(session, loaded)

    def linked_case(self, it: InboundInteraction) -> Case | None:
        """The case named by the message, or of the message it answers, or else of its thread."""
        if it.case_id is not None and it.case_id in self.batch_cases:
            return self.batch_cases[it.case_id]
        if it.in_reply_to:
            key = (it.channel, it.in_reply_to)
            if key in self._new_by_message:
                return self._new_by_message[key]
            case_id = self.by_message.get(key, (None, None))[0]
            if case_id is not None and case_id in self.batch_cases:
                return self.batch_cases[case_id]
        if it.thread_key:
            key = (it.channel, it.thread_key)
            if key in self._new_by_thread:
                return self._new_by_thread[key]
            case_id = self.case_by_thread.get(key)
            if case_id is not None and case_id in self.batch_cases:
                return self.batch_cases[case_id]
        return None

    def parent_customer(self, it: InboundInteraction) -> int | None:
        if not it.in_reply_to:
            return None
        return self.by_message.get((it.channel, it.in_reply_to), (None, None))[1]

    def _index(self, case: Case) -> None:
        root = self.roots.get(case.customer_id, case.customer_id)
        self._topical[(root, case.category, case.department_id)].append(case)

    def open_case_of(
        self, customer_id: int, category: str, department_id: int, at: datetime, window: Any
    ) -> Case | None:
        """The customer's most recently active open case of this category and department."""
        best = None
        for case in self._topical.get((customer_id, category, department_id), ()):
            if (
                case.status in case_ops.OPEN_STATUSES
                and at - case.last_activity_at <= window
                and (best is None or case.last_activity_at > best.last_activity_at)
            ):
                best = case
        return best

    def touch(self, case: Case, at: datetime) -> None:
        if at > case.last_activity_at:
            case.last_activity_at = at
        self.touched.add(case)

    def add_new(self, case: Case, pool: str | None = None) -> None:
        self.new_cases.append(case)
        if pool:
            self.pools[id(case)] = pool
        self.roots[case.customer_id] = case.customer_id
        self.touched.add(case)
        self._index(case)

    def remember(self, it: InboundInteraction, case: Case | None, customer_id: int | None) -> None:
        key = (it.channel, it.external_id)
        self.by_message[key] = (case.id if case is not None else None, customer_id)
        if case is not None:
            self._new_by_message[key] = case
            if it.thread_key:
                self._new_by_thread[(it.channel, it.thread_key)] = case


# The columns the loop may change on a case; see _uniform_updates.
_CASE_STATE = [
    c.key
    for c in Case.__table__.columns
    if c.key not in ("id", "customer_id", "channel", "opened_at", "updated_at")
]


def _uniform_updates(cases: Iterable[Case]) -> None:
    """Have the flush write the same columns of every case the batch changed.

    The ORM updates rows with one executemany per run of rows that change the same columns;
    a batch's cases change different ones (a first response here, a paused clock there), so
    it would send one UPDATE per case.  Writing every state column of each touched case
    (unchanged values included) makes it one statement for the batch.
    """
    for case in cases:
        for key in _CASE_STATE:
            flag_modified(case, key)


def _customer_infos(session: Session, ids: set[int]) -> dict[int, CustomerInfo]:
    if not ids:
        return {}
    rows = session.execute(
        sa.select(Customer.id, Customer.display_name, Customer.attributes).where(
            Customer.id.in_(sorted(ids))
        )
    )
    return {
        cid: CustomerInfo(id=cid, display_name=name, attributes=attrs or {})
        for cid, name, attrs in rows
    }
