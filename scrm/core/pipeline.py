"""The ingest pipeline: interactions in, customers, cases and SLA clocks out.

``InboundInteraction -> dedupe (channel, external_id) -> identity -> customer -> classify
(hook) -> route (hook) -> attach to an open case by reply, thread or customer+topic, or
open one -> SLA deadlines (hook) -> domain events -> commit -> dispatch``

Work is set-based per batch: one query finds all duplicates of a batch, one all its known
identities, one all the cases its replies and threads point at; rows are inserted with
executemany.  One transaction per batch; bad records become rejects in the same
transaction, so nothing is lost and good records next to a bad one are stored.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import flag_modified

from scrm.core import assignment, conversation, loop
from scrm.core import cases as case_ops
from scrm.core.agents import ensure_departments
from scrm.core.bounds import clean_text
from scrm.core.brands import BrandDirectory
from scrm.core.config import CasesConfig
from scrm.core.conversation import CaseRules, Message
from scrm.core.customers import ResolvedAuthor, resolve_authors, root_ids
from scrm.core.db import chunks, group_by_channel, insert_rows, utcnow
from scrm.core.dispatch import Dispatcher, Pending
from scrm.core.dispatch import record as record_events
from scrm.core.events import (
    BatchCommitted,
    CaseOpened,
    EngagementUpdated,
    Event,
    InteractionRejected,
    InteractionStored,
)
from scrm.core.labels import correct_label
from scrm.core.models import (
    Case,
    Customer,
    Department,
    Identity,
    Interaction,
    LabelCorrection,
    Reject,
)
from scrm.core.placement import (
    TRIAGE,
    Candidates,
    CaseContext,
    Decision,
    NewCase,
    StoredRow,
    before,
    open_answered,
    order_key,
    place_inbound,
    place_outbound,
)
from scrm.core.plugins import Hooks
from scrm.core.privacy import tombstones_of
from scrm.core.schemas import (
    Author,
    CaseInfo,
    CaseStatus,
    CustomerInfo,
    Direction,
    Engagement,
    InboundInteraction,
    Kind,
    RejectInfo,
    SlaPolicy,
    StoredInteraction,
)
from scrm.core.tenancy import DEFAULT_BRAND_KEY, brand_scope, scoped

__all__ = ["IngestReport", "Origin", "Pipeline", "Rejected", "one_line"]

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
    raw: bytes | None = None
    """The bytes exactly as received, when ``payload`` cannot hold them (not UTF-8)."""


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
    :param dispatcher: dispatches each batch's domain events once it has committed (none:
        they are recorded and left to the worker).
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
        dispatcher: Dispatcher | None = None,
        brands: BrandDirectory | None = None,
        brand: int | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.brands = brands
        self.brand = brand
        self.cases = cases or CasesConfig()
        self.hooks = hooks
        self.session_factory = session_factory
        self.batch_size = batch_size
        self.attach_window = attach_window
        self.department_names = dict(departments)
        self.assignment = assignment or {}

    def run(self, records: Iterable[Record]) -> IngestReport:
        report = IngestReport()
        for batch in _batched(records, self.batch_size):
            for brand, part in self._by_brand(batch):
                report.add(self._run_batch(part, brand))
        return report

    def _by_brand(self, batch: list[Record]) -> list[tuple[int | None, list[Record]]]:
        """Each brand's records of ``batch``: a batch is written per brand, in its scope."""
        if self.brands is None:
            return [(self.brand, batch)]
        with self.session_factory() as session, session.begin():
            groups = self.brands.split(session, batch, self.brand)
            for brand, part in groups:
                # A replayed reject kept before its brand was known is now its record's.
                ids = [rec[1].reject_id for rec in part if not isinstance(rec, Rejected)]
                if brand is not None and any(ids):
                    session.execute(
                        sa.update(Reject)
                        .where(Reject.id.in_([i for i in ids if i]), Reject.brand_id.is_(None))
                        .values(brand_id=brand)
                    )
        return groups

    def relabel(self, interaction_id: int, actor: str, **fields: Any) -> LabelCorrection:
        """Correct a message's labels (:func:`~scrm.core.labels.correct_label`) and its case.

        A customer message that had no case (read as spam, say) gets one when relabelled as
        anything but spam; a message that opened its case takes the case's kind and
        category with it.
        """
        with self.session_factory() as session, session.begin():
            row = correct_label(session, interaction_id, actor, **fields)
            brand = session.scalar(
                sa.select(Interaction.brand_id).where(Interaction.id == interaction_id)
            )
            outcome = _BatchWriter(self, session, brand).place_relabelled(interaction_id)
            outcome.record(session)
        self._announce(outcome)
        return row

    def _run_batch(self, batch: list[Record], brand: int | None) -> IngestReport:
        """Write one batch; if the database refuses it, write its halves, down to the record.

        A record the database still refuses on its own becomes a reject with the reason, so
        one bad value never costs the records around it.  Only an unreachable database
        (connection lost, still locked after retries) stops the run.
        """
        try:
            outcome = self._write(batch, brand)
        except (OperationalError, InterfaceError):
            raise
        except Exception as exc:
            if len(batch) == 1 and not isinstance(batch[0], Rejected):
                log.warning("ingest record rejected: %s", one_line(exc))
                return self._run_batch([_refused(batch[0], exc)], brand)
            if len(batch) == 1:
                raise
            log.warning(
                "ingest batch of %d records failed (%s); writing it in halves",
                len(batch),
                one_line(exc),
            )
            half = len(batch) // 2
            report = self._run_batch(batch[:half], brand)
            report.add(self._run_batch(batch[half:], brand))
            return report
        self._announce(outcome)
        return outcome.report

    def _announce(self, outcome: _Outcome) -> None:
        """Dispatch the events of a committed batch (see :mod:`scrm.core.dispatch`)."""
        if self.dispatcher is not None:
            self.dispatcher.dispatch(outcome.pending)

    def _write(self, batch: list[Record], brand: int | None) -> _Outcome:
        info = scoped(brand) if brand is not None else {}
        for attempt in range(3):
            try:
                with self.session_factory(info=info) as session, session.begin():
                    writer = _BatchWriter(self, session, brand)
                    outcome = writer.write(_check_cases(session, batch))
                    outcome.record(session)
                    return outcome
            except (IntegrityError, OperationalError) as exc:
                # Another writer stored some of these messages between our duplicate check
                # and our insert (PostgreSQL, several workers), or the database was busy.
                # Redo the batch: the next pass sees those rows as duplicates.
                if attempt == 2:
                    raise
                log.warning("ingest batch retried after %s", type(exc).__name__)
        raise AssertionError("unreachable")  # pragma: no cover


def one_line(exc: BaseException) -> str:
    """Describe an error in one line, without SQL or bound parameters (they hold message text)."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first = (str(cause).strip().splitlines() or [""])[0]
    text = f"{type(cause).__name__}: {first}" if first else type(cause).__name__
    return clean_text(text[:200])[0]


def _with_payload(origin: Origin, it: InboundInteraction) -> Origin:
    """Origin of a record whose reject must hold the interaction itself (built in Python)."""
    if origin.payload is not None:
        return replace(origin, channel=origin.channel or it.channel)
    return replace(origin, payload=it.model_dump_json(), format="interactions", channel=it.channel)


def _refused(record: Record, exc: Exception) -> Rejected:
    assert not isinstance(record, Rejected)
    it, origin = record
    return Rejected(_with_payload(origin, it), f"the database refused it: {one_line(exc)}")


def _check_cases(session: Session, batch: list[Record]) -> list[Record]:
    """Reject records that name a ``case_id`` that does not exist, like an unknown customer."""
    wanted = {rec[0].case_id for rec in batch if not isinstance(rec, Rejected) and rec[0].case_id}
    if not wanted:
        return batch
    known: set[int] = set()
    for part in chunks(sorted(wanted)):
        known.update(session.scalars(sa.select(Case.id).where(Case.id.in_(part))))
    if known == wanted:
        return batch
    out: list[Record] = []
    for rec in batch:
        if isinstance(rec, Rejected) or rec[0].case_id is None or rec[0].case_id in known:
            out.append(rec)
        else:
            it, origin = rec
            out.append(Rejected(_with_payload(origin, it), f"no case {it.case_id}", "case_id"))
    return out


@dataclass
class _Outcome:
    report: IngestReport = field(default_factory=IngestReport)
    stored: list[StoredInteraction] = field(default_factory=list)
    opened: list[CaseInfo] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    """Loop effects (transitions, ratings, escalations) to report after commit, in order."""
    rejects: list[RejectInfo] = field(default_factory=list)
    """Every reject of the batch (the report lists only the first ones)."""
    pending: Pending | None = None
    """The recorded events, once :meth:`record` has written them."""

    def record(self, session: Session) -> None:
        """Write the batch's domain events into its transaction, in the hooks' order."""
        events: list[Event] = [InteractionStored(interaction=i) for i in self.stored]
        events += [CaseOpened(case=c) for c in self.opened]
        events += self.events
        events.append(BatchCommitted(interactions=self.stored))
        events += [InteractionRejected(reject=r) for r in self.rejects]
        self.pending = (record_events(session, events), events)


@dataclass(frozen=True)
class _Identified:
    """The identities stage's result for a message: the customer it is from (or, a brand
    message, to); None when it names no one."""

    it: InboundInteraction
    origin: Origin
    author: ResolvedAuthor | None


@dataclass(frozen=True)
class _Classified(_Identified):
    """A message with what the classify and route hooks said of it (None: a brand message)."""

    decision: Decision | None


@dataclass(frozen=True)
class _Placed(_Classified):
    """A message with the case it landed on (None: on none) and its customer."""

    case: Case | None
    customer_id: int | None


@dataclass(frozen=True)
class _Placement:
    """The decide stage's result: the batch's messages placed, oldest first, and the cases
    they changed (the loop has run on them, in memory)."""

    ctx: CaseContext
    placed: list[_Placed]
    rules: CaseRules


@dataclass(frozen=True)
class _Persisted:
    """The persist stage's result: the cases opened, as written, and the messages' ids."""

    opened: list[CaseInfo]
    ids: list[int]


class _BatchWriter:
    """Everything one batch does inside its transaction."""

    def __init__(self, pipeline: Pipeline, session: Session, brand: int | None) -> None:
        """:param brand: the id of the brand whose messages and cases the batch holds."""
        self.p = pipeline
        self.session = session
        key = pipeline.brands.key_of(brand) if pipeline.brands is not None else None
        self.brand = key or DEFAULT_BRAND_KEY
        self.hooks = pipeline.hooks.for_brand(self.brand)
        """The decision hooks, with the brand's settings (``ctx.brand``)."""
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
            placement = self._place(self._classify(self._identities(fresh)))
            self._emit(placement, self._persist(placement))
        self._keep_rejects()
        return self.out

    def place_relabelled(self, interaction_id: int) -> _Outcome:
        """Give a relabelled customer message the case its new labels call for."""
        s = self.session
        it = s.get(Interaction, interaction_id)
        if it is None or it.direction != Direction.INBOUND.value or it.customer_id is None:
            return self.out
        msg = conversation.message_of_row(it)
        assert msg.cls is not None
        if it.case_id is not None:
            case = s.get(Case, it.case_id)
            first = s.scalar(
                sa.select(Interaction.id)
                .where(Interaction.case_id == it.case_id, Interaction.direction == "inbound")
                .order_by(Interaction.created_at, Interaction.id)
                .limit(1)
            )
            if case is not None and first == it.id and msg.cls.kind is not Kind.SPAM:
                kind = msg.cls.kind if msg.cls.kind is not Kind.OTHER else Kind.QUESTION
                if (case.kind, case.category) != (kind.value, msg.cls.category):
                    case_ops.add_event(
                        s, case, "relabelled", actor="system",
                        from_value=f"{case.kind}/{case.category}",
                        to_value=f"{kind.value}/{msg.cls.category}",
                        note=f"its first message, {it.id}, was relabelled",
                    )  # fmt: skip
                    case.kind, case.category = kind.value, msg.cls.category
            return self.out
        if msg.cls.kind is Kind.SPAM:
            return self.out
        author = s.get(Identity, it.identity_id) if it.identity_id is not None else None
        native = InboundInteraction(
            channel=it.channel,
            external_id=it.external_id,
            text=it.text,
            subject=it.subject,
            created_at=it.created_at,
            public=it.public,
            account=it.account,
            author=Author(
                external_id=author.external_id if author else f"customer:{it.customer_id}",
                handle=author.handle if author else None,
            ),
        )
        customers = _customer_infos(s, {it.customer_id})
        route = self.hooks.route(native, msg.cls, customers.get(it.customer_id))
        ctx = CaseContext(Candidates(), self.p.cases)
        promises = loop.PromiseBook(s, ())
        with s.no_autoflush:
            case = open_answered(
                ctx,
                self._open_case,
                it.customer_id,
                it,
                msg,
                route.department or TRIAGE,
                route.priority,
            )
            ctx.move(it, case)
            rules = CaseRules(s, self.p.cases, self._policy, promises)
            self._run_loop(ctx, rules, defaultdict(list), promises)
        s.flush()
        it.case_id = case.id
        assignment.assign_new(s, [(case, None)], strategy_for=self._strategy, at=utcnow())
        self.out.opened.append(
            case_ops.case_info(case, self._code(case.department_id), self.brand)
        )
        self.out.events.extend(rules.events())
        self.out.report.cases_opened += 1
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
                self.out.events.append(
                    EngagementUpdated(interaction_id=iid, engagement=Engagement.model_validate(eng))
                )
        return list(fresh.values())

    def _identities(self, fresh: list[tuple[InboundInteraction, Origin]]) -> list[_Identified]:
        """Stage: the batch oldest first, each message with the customer of its author (a
        customer message) or recipient (a brand message); an author that cannot be resolved
        makes its message a reject."""
        # Oldest first: a page read newest first, or a shuffled file, is placed in the order
        # it was written, so cases open on the first message and replies follow their parents.
        fresh = sorted(fresh, key=lambda p: order_key(p[0]))
        pairs = []
        for it, _ in fresh:
            person = it.author if it.direction is Direction.INBOUND else it.recipient
            if person is not None:
                pairs.append((it, person))
        resolved, errors = resolve_authors(self.session, self.hooks, pairs)
        out: list[_Identified] = []
        for it, origin in fresh:
            person = it.author if it.direction is Direction.INBOUND else it.recipient
            k = (it.channel, person.external_id) if person is not None else None
            if k is not None and k in errors:
                self.failures.append((origin, errors[k], "customer_id", it))
                continue
            out.append(_Identified(it, origin, resolved.get(k) if k is not None else None))
        return out

    def _classify(self, identified: list[_Identified]) -> list[_Classified]:
        """Stage (decide, hooks): classify and route every customer message.

        All of them before placing any (no database work), so that the load step reads
        only the open cases of the topics this batch talks about.
        """
        customers = _customer_infos(
            self.session, {i.author.customer_id for i in identified if i.author is not None}
        )
        out: list[_Classified] = []
        for it, origin, ra in ((i.it, i.origin, i.author) for i in identified):
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
                decision = Decision(label, route)
            out.append(_Classified(it, origin, ra, decision))
        return out

    def _place(self, ok: list[_Classified]) -> _Placement:
        """Stage (decide, placement): load the candidate cases, put each message on its case
        by the rules of :mod:`scrm.core.placement`, and run the loop on those cases."""
        s = self.session
        topics = {
            (c.author.customer_id, c.decision.cls.category)
            for c in ok
            if c.author is not None
            and c.decision is not None
            and c.decision.route.department is not None
        }
        candidates = _load_candidates(
            s,
            [c.it for c in ok],
            topics,
            {c.author.customer_id for c in ok if c.author is not None and c.decision is not None},
            self.p.attach_window,
            self.p.cases,
        )
        ctx = CaseContext(candidates, self.p.cases)
        promises = loop.PromiseBook(s, candidates.cases)
        placed: list[_Placed] = []
        on_case: dict[Case, list[Message]] = defaultdict(list)
        caseless: dict[tuple[str, str], tuple[int, Message]] = {}
        """Customer messages of this batch that opened no case, by key: their place in placed."""
        # Nothing is flushed until every message is placed: the batch's cases and promises
        # are in memory (CaseContext), and one flush writes them together afterwards.
        with s.no_autoflush:
            for it, origin, ra, decision in ((c.it, c.origin, c.author, c.decision) for c in ok):
                try:
                    if decision is not None:
                        customer_id = ra.customer_id if ra else None
                        case = place_inbound(
                            ctx,
                            it,
                            customer_id,
                            decision,
                            window=self.p.attach_window,
                            department_id=self._department_id,
                            open_case=self._open_case,
                        )
                    else:
                        parent = caseless.pop((it.channel, it.in_reply_to or ""), None)
                        if parent is not None:
                            # The brand answered a message of this batch that opened no case.
                            pos, msg = parent
                            p = placed[pos]
                            assert p.customer_id is not None and msg.cls is not None
                            p_case = open_answered(ctx, self._open_case, p.customer_id, p.it, msg)
                            placed[pos] = replace(p, case=p_case)
                            ctx.remember(p.it, p_case, p.customer_id)
                            on_case[p_case].append(msg)
                        case, customer_id = place_outbound(
                            ctx, it, ra.customer_id if ra else None, self._open_case
                        )
                except Exception as exc:  # a plugin failed: keep the record, name the error
                    self._plugin_failed(it, origin, exc)
                    continue
                ctx.remember(it, case, customer_id)
                msg = _message(it, decision)
                if case is not None:
                    on_case[case].append(msg)
                elif decision is not None and it.noise is None and customer_id is not None:
                    caseless[(it.channel, it.external_id)] = (len(placed), msg)
                placed.append(_Placed(it, origin, ra, decision, case, customer_id))
            rules = CaseRules(s, self.p.cases, self._policy, promises)
            self._run_loop(ctx, rules, on_case, promises)
            _uniform_updates(ctx.touched - set(ctx.new_cases))
        return _Placement(ctx, placed, rules)

    def _persist(self, placement: _Placement) -> _Persisted:
        """Stage: write the batch's cases (and assign the new ones), move the messages that
        arrived before what they answer, and insert the batch's messages."""
        s, ctx = self.session, placement.ctx
        s.flush()
        if ctx.new_cases:
            assignment.assign_new(
                s,
                [(c, ctx.pools.get(id(c))) for c in ctx.new_cases],
                strategy_for=self._strategy,
                at=utcnow(),
            )
        opened = [
            case_ops.case_info(c, self._code(c.department_id), self.brand) for c in ctx.new_cases
        ]
        for p in placement.placed:
            if p.origin.reject_id is not None:
                self._mark_replayed(p.origin.reject_id)
        if ctx.moves:
            # Messages stored before the one they answer, now on its case.
            s.execute(
                sa.update(Interaction),
                [{"id": iid, "case_id": case.id} for iid, case in ctx.moves.items()],
            )
        rows = [self._row(p) for p in placement.placed]
        ids = insert_rows(s, Interaction, rows) if rows else []
        return _Persisted(opened, ids)

    def _emit(self, placement: _Placement, persisted: _Persisted) -> None:
        """Stage: the batch's outcome: its report and domain events (recorded on commit)."""
        ctx = placement.ctx
        self.out.opened.extend(persisted.opened)
        self.out.events.extend(placement.rules.events())
        for iid, p in zip(persisted.ids, placement.placed, strict=True):
            self.out.stored.append(
                StoredInteraction(
                    id=iid,
                    channel=p.it.channel,
                    external_id=p.it.external_id,
                    direction=p.it.direction,
                    customer_id=p.customer_id,
                    case_id=p.case.id if p.case is not None else None,
                    created_at=p.it.created_at,
                    classification=p.decision.cls if p.decision is not None else None,
                    account=p.it.account,
                    brand=self.brand,
                )
            )
        self.out.report.stored += len(persisted.ids)
        self.out.report.cases_opened += len(ctx.new_cases)
        self.out.report.cases_updated += len(ctx.touched - set(ctx.new_cases))

    def _run_loop(
        self,
        ctx: CaseContext,
        rules: CaseRules,
        on_case: dict[Case, list[Message]],
        promises: loop.PromiseBook,
    ) -> None:
        """Apply the loop to every case the batch placed messages on, oldest message first.

        A case whose batch messages are all newer than what it had seen goes on from where it
        was.  A case that received a message older than its last activity, or messages that
        were stored before the one they answer, is replayed from its first message, unless an
        agent acted on it: then its times are repaired from its messages.
        """
        for case, moved in ctx.moved.items():
            on_case[case].extend(moved)
        late = {
            case
            for case, msgs in on_case.items()
            if case.id is not None
            and (case in ctx.moved or any(m.at < ctx.seen[case] for m in msgs))
        }
        stored = conversation.stored_messages(self.session, [c.id for c in late])
        fresh_start = conversation.replayable(self.session, [c.id for c in late])
        for case, msgs in on_case.items():
            msgs.sort(key=lambda m: m.order)
            if case.id is None:
                first = next((m for m in msgs if m.from_customer), msgs[0])
                case.opened_at = min(case.opened_at, first.at)
                rules.opened(case, first, ctx.pools.get(id(case)))
            elif case in late:
                history = sorted(stored.get(case.id, []) + msgs, key=lambda m: m.order)
                if case.id in fresh_start:
                    rules.replaying(case)
                    promises.forget(case, self.session)
                    conversation.reset(self.session, case, history, self._department_id)
                    case_ops.apply_sla(case, self._policy(case))
                    rules.opened(case, history[0])
                    msgs = history
                else:
                    conversation.repair_times(case, history)
            for msg in msgs:
                rules.apply(case, msg)
            ctx.touched.add(case)

    def _policy(self, case: Case) -> SlaPolicy | None:
        info = case_ops.case_info(case, self._code(case.department_id), self.brand)
        return self.hooks.choose_sla(info)

    def _row(self, placed: _Placed) -> dict[str, Any]:
        it, ra, decision = placed.it, placed.author, placed.decision
        customer_id = placed.customer_id
        cls = decision.cls if decision is not None else None
        labels: dict[str, Any] = {}
        if decision is not None:
            # What the loop needs to replay this message later: its route and its noise.
            labels = decision.cls.model_dump(mode="json") | {
                "route": {
                    "department": decision.route.department,
                    "priority": decision.route.priority.value,
                }
            }
            if it.noise is not None:
                labels["noise"] = it.noise
        return {
            "channel": it.channel,
            "external_id": it.external_id,
            "direction": it.direction.value,
            "public": it.public,
            "identity_id": ra.identity_id if ra and it.direction is Direction.INBOUND else None,
            "customer_id": customer_id,
            "case_id": placed.case.id if placed.case is not None else None,
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
            "labels": labels,
            "engagement": it.engagement.model_dump() if it.engagement else None,
            "attachments": [a.model_dump() for a in it.attachments],
            "raw": it.raw,
            "answer_url": it.answer_url,
            "account": it.account,
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

    def _open_case(self, spec: NewCase) -> Case:
        """Make the row of a case the decide stage opens (flushed with the batch)."""
        kind = spec.kind if spec.kind is not Kind.OTHER else Kind.QUESTION
        case = Case(
            customer_id=spec.customer_id,
            department_id=self._department_id(spec.department),
            channel=spec.channel,
            kind=kind.value,
            category=spec.category,
            priority=spec.priority.value,
            status=CaseStatus.NEW.value,
            language=spec.language,
            subject=spec.subject[:255],
            opened_at=spec.at,
            last_activity_at=spec.at,
            reopen_count=0,
            escalation_level=0,
            version=1,
        )
        info = CaseInfo(
            id=None,
            customer_id=spec.customer_id,
            channel=spec.channel,
            department=spec.department,
            kind=kind,
            category=spec.category,
            priority=spec.priority,
            status=CaseStatus.NEW,
            language=spec.language,
            opened_at=spec.at,
            brand=self.brand,
        )
        case_ops.apply_sla(case, self.hooks.choose_sla(info))
        self.session.add(case)
        return case

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
        for origin, why, where, it in self.failures:
            fmt, payload, exact = _reject_payload(origin, it)
            # Every text column is made storable: a reason may quote the input.
            reason, fld = clean_text(why)[0], clean_text(where)[0][:255] if where else None
            channel = clean_text(origin.channel or (it.channel if it else ""))[0][:32] or None
            source = clean_text(origin.source)[0][:1024]
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
                head = f"{origin.source}\0{origin.position}\0".encode("utf-8", "surrogatepass")
                body = exact if exact is not None else payload.encode()
                fingerprint = hashlib.sha256(head + body).hexdigest()
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
                            source=source,
                            position=origin.position,
                            channel=channel,
                            format=fmt,
                            field=fld,
                            reason=reason,
                            payload=payload,
                            payload_bytes=exact,
                            fingerprint=fingerprint,
                            brand_id=brand_scope(self.session),
                        )
                    )
            self.out.report.rejected += 1
            info = RejectInfo(
                id=rid,
                source=source,
                position=origin.position,
                channel=channel,
                field=fld,
                reason=reason,
                payload=payload,
            )
            self.out.rejects.append(info)
            if len(self.out.report.rejects) < _KEEP_REJECTS:
                self.out.report.rejects.append(info)


def _reject_payload(origin: Origin, it: InboundInteraction | None) -> tuple[str, str, bytes | None]:
    """Return a reject's format, its payload as storable text, and the exact bytes if that
    text is not exact (input that is not UTF-8, or holds NUL or lone surrogates)."""
    if origin.payload is None:
        return "interactions", it.model_dump_json() if it else "", None
    text, changed = clean_text(origin.payload)
    if origin.raw is not None:
        return origin.format, text, origin.raw
    return origin.format, text, origin.payload.encode("utf-8", "surrogatepass") if changed else None


def _load_candidates(
    session: Session,
    items: list[InboundInteraction],
    topics: set[tuple[int, str]],
    customers: set[int],
    window: timedelta,
    config: CasesConfig,
) -> Candidates:
    """The load step: read, in a few queries, every case and stored message the batch's
    placement can depend on (:class:`~scrm.core.placement.Candidates`).

    Those are the stored messages the batch answers or that answer it, the cases of its
    threads and of those messages, the cases it names, and the open cases that can absorb a
    message of the batch by customer: of its (customer, category) ``topics`` within
    ``window``, or of its ``customers`` within the continue window.
    """
    row_columns = conversation.MESSAGE_COLUMNS
    parents_of: dict[tuple[str, str], StoredRow] = {}
    parents = {(it.channel, it.in_reply_to) for it in items if it.in_reply_to}
    for ch, exts in group_by_channel(parents).items():
        for row in session.execute(
            sa.select(*row_columns).where(
                Interaction.channel == ch, Interaction.external_id.in_(exts)
            )
        ):
            parents_of[(ch, row.external_id)] = _stored_row(row)
    children: dict[tuple[str, str], list[StoredRow]] = defaultdict(list)
    own = {(it.channel, it.external_id) for it in items}
    for ch, exts in group_by_channel(own).items():
        for row in session.execute(
            sa.select(*row_columns).where(
                Interaction.channel == ch, Interaction.in_reply_to.in_(exts)
            )
        ):
            children[(ch, row.in_reply_to)].append(_stored_row(row))
    case_by_thread: dict[tuple[str, str], list[int]] = defaultdict(list)
    threads = {(it.channel, it.thread_key) for it in items if it.thread_key}
    for ch, keys in group_by_channel(threads).items():
        for key, case_id in session.execute(
            sa.select(Interaction.thread_key, Interaction.case_id)
            .where(
                Interaction.channel == ch,
                Interaction.thread_key.in_(keys),
                Interaction.case_id.is_not(None),
            )
            .group_by(Interaction.thread_key, Interaction.case_id)
            .order_by(sa.func.min(Interaction.created_at), Interaction.case_id)
        ):
            if key is not None and case_id is not None:
                case_by_thread[(ch, key)].append(case_id)
    wanted_ids = (
        {r.case_id for r in parents_of.values() if r.case_id}
        | {c for rows in children.values() for r in rows if (c := r.case_id)}
        | {c for ids in case_by_thread.values() for c in ids}
        | {it.case_id for it in items if it.case_id is not None}
    )
    wheres: list[sa.ColumnElement[bool]] = [
        Case.id.in_(part) for part in chunks(sorted(wanted_ids))
    ]
    # Besides those, only the open cases that can absorb a message of this batch by
    # customer: of its (customer, category) pairs, or recent enough to continue.
    since = min((it.created_at for it in items), default=None)
    if since is not None:
        wheres += [
            sa.and_(
                # The customer list lets the database use ix_cases_customer_id_status.
                Case.customer_id.in_(sorted({c for c, _ in part})),
                sa.tuple_(Case.customer_id, Case.category).in_(part),
                Case.status.in_(case_ops.OPEN_STATUSES),
                Case.last_activity_at >= before(since, window),
            )
            for part in chunks(sorted(topics))
        ]
        wheres += [
            sa.and_(
                Case.customer_id.in_(part),
                Case.status.in_(case_ops.OPEN_STATUSES),
                Case.last_activity_at >= before(since, config.continue_window),
            )
            for part in chunks(sorted(customers))
        ]
    found: dict[int, Case] = {}
    for where in wheres:
        for case in session.scalars(sa.select(Case).where(where)):
            found.setdefault(case.id, case)
    loaded = tuple(found.values())
    return Candidates(
        parents=parents_of,
        children={key: tuple(rows) for key, rows in children.items()},
        case_by_thread={key: tuple(ids) for key, ids in case_by_thread.items()},
        cases=loaded,
        roots=root_ids(session, {c.customer_id for c in loaded}),
    )


def _stored_row(row: Any) -> StoredRow:
    return StoredRow(
        id=row.id,
        channel=row.channel,
        external_id=row.external_id,
        direction=row.direction,
        public=row.public,
        text=row.text,
        subject=row.subject,
        created_at=row.created_at,
        labels=row.labels,
        case_id=row.case_id,
        customer_id=row.customer_id,
        in_reply_to=row.in_reply_to,
    )


def _message(it: InboundInteraction, decision: Decision | None) -> Message:
    person = it.author
    return Message(
        channel=it.channel,
        external_id=it.external_id,
        direction=it.direction,
        public=it.public,
        text=it.text,
        subject=it.subject,
        at=it.created_at,
        actor="customer"
        if it.direction is Direction.INBOUND
        else f"{it.channel}:{person.handle or person.external_id}",
        cls=decision.cls if decision is not None else None,
        noise=it.noise,
        priority=decision.route.priority if decision is not None else None,
        department=decision.route.department if decision is not None else None,
    )


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
