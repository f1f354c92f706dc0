"""One customer record per person: identity resolution, reversible merges, duplicate hints.

Identity resolution runs per ingest batch with one query per step, not per message: a new
(channel, external user id) joins an existing customer when a rule links it (a manual link,
the same e-mail address or phone number, or an identity a plugin names), otherwise it
creates a customer.

Merging never rewrites history.  ``merge(A, B)`` points A at B (``merged_into_id``) and
records who did it; readers treat B and everything merged into it as one family.
``unmerge`` clears the pointer and hands back to A the cases opened on B from A's own
identities in the meantime, so the undo is exact.
"""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scrm.core import audit, text
from scrm.core.db import chunks, group_by_channel, insert_rows, utcnow
from scrm.core.errors import N_, NotFound, Refused
from scrm.core.logsafe import loggable
from scrm.core.models import Case, CaseEvent, Customer, CustomerMerge, Identity, Interaction

if TYPE_CHECKING:
    from scrm.core.plugins import Hooks
    from scrm.core.schemas import Author, InboundInteraction

__all__ = [
    "DuplicateSuggestion",
    "MergeError",
    "ResolvedAuthor",
    "family_ids",
    "merge",
    "resolve_authors",
    "root_ids",
    "suggest_duplicates",
    "unmerge",
]

log = logging.getLogger(__name__)

_PROFILE_FIELDS = (
    "handle",
    "display_name",
    "email",
    "phone",
    "followers",
    "verified",
    "account_created_at",
)


class MergeError(Refused):
    """A merge or unmerge that cannot be done; the message says why."""


@dataclass(frozen=True)
class ResolvedAuthor:
    identity_id: int
    customer_id: int
    """The root customer (after following merges)."""
    created: bool


def _lookup_identities(
    session: Session, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], Identity]:
    found: dict[tuple[str, str], Identity] = {}
    for ch, exts in group_by_channel(keys).items():
        for part in chunks(exts):
            rows = session.scalars(
                sa.select(Identity).where(Identity.channel == ch, Identity.external_id.in_(part))
            )
            for ident in rows:
                found[(ident.channel, ident.external_id)] = ident
    return found


def _customers_by_contact(session: Session, column: str, values: set[str]) -> dict[str, int]:
    """Map e-mail addresses (or phones) to the customer that already has them."""
    out: dict[str, int] = {}
    if not values:
        return out
    vals = sorted(values)
    for part in chunks(vals):
        ident_col = getattr(Identity, column)
        for value, cid in session.execute(
            sa.select(ident_col, Identity.customer_id)
            .where(ident_col.in_(part))
            .order_by(Identity.id)
        ):
            out.setdefault(value, cid)
        cust_col = getattr(Customer, column)
        for value, cid in session.execute(
            sa.select(cust_col, Customer.id).where(cust_col.in_(part)).order_by(Customer.id)
        ):
            out.setdefault(value, cid)
    return out


def root_ids(session: Session, ids: Iterable[int]) -> dict[int, int]:
    """Map each customer id to the customer it is (transitively) merged into, or itself."""
    mapping = {i: i for i in ids}
    frontier = set(mapping.values())
    seen: set[int] = set()
    while frontier:
        seen |= frontier
        parents: dict[int, int] = {}
        for part in chunks(sorted(frontier)):
            rows = session.execute(
                sa.select(Customer.id, Customer.merged_into_id).where(
                    Customer.id.in_(part), Customer.merged_into_id.is_not(None)
                )
            )
            parents.update({cid: parent for cid, parent in rows if parent is not None})
        if not parents:
            break
        for k, v in mapping.items():
            while v in parents:
                v = parents[v]
            mapping[k] = v
        frontier = set(parents.values()) - seen
    return mapping


def family_ids(session: Session, customer_id: int) -> list[int]:
    """Return ``customer_id`` and every customer merged into it, directly or not."""
    family = [customer_id]
    frontier = [customer_id]
    while frontier:
        children = list(
            session.scalars(sa.select(Customer.id).where(Customer.merged_into_id.in_(frontier)))
        )
        family.extend(children)
        frontier = children
    return family


def resolve_authors(
    session: Session, hooks: Hooks, items: Sequence[tuple[InboundInteraction, Author]]
) -> tuple[dict[tuple[str, str], ResolvedAuthor], dict[tuple[str, str], str]]:
    """Find or create the identity and customer of each (interaction, author) pair.

    :returns: a map from (channel, author external id) to the resolved author, and a map
        from (channel, author external id) to the reason it cannot be resolved (e.g. an
        unknown ``customer_id``).
    """
    keys: dict[tuple[str, str], tuple[InboundInteraction, Author]] = {}
    for it, a in items:
        key = (it.channel, a.external_id)
        if key in keys:
            # Within a batch as across batches, a later observation's non-empty profile
            # fields win and its empty ones erase nothing.
            first_it, seen = keys[key]
            later = {f: v for f in _PROFILE_FIELDS if (v := getattr(a, f)) is not None}
            a = seen.model_copy(update=later)
            it = first_it
        keys[key] = (it, a)
    existing = _lookup_identities(session, keys)
    errors: dict[tuple[str, str], str] = {}

    updates = []
    for key, ident in existing.items():
        author = keys[key][1]
        change = {
            f: getattr(author, f)
            for f in _PROFILE_FIELDS
            if getattr(author, f) is not None and getattr(author, f) != getattr(ident, f)
        }
        if change:
            updates.append({"id": ident.id, **change, "updated_at": utcnow()})
    if updates:
        session.execute(sa.update(Identity), updates)

    missing = [k for k in keys if k not in existing]
    manual_ids = {keys[k][0].customer_id for k in missing if keys[k][0].customer_id is not None}
    known_manual = (
        set(session.scalars(sa.select(Customer.id).where(Customer.id.in_(manual_ids))))
        if manual_ids
        else set()
    )
    by_email = _customers_by_contact(
        session, "email", {e for k in missing if (e := keys[k][1].email)}
    )
    by_phone = _customers_by_contact(
        session, "phone", {ph for k in missing if (ph := keys[k][1].phone)}
    )
    hinted: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for k in missing:
        try:
            named = hooks.resolve_identity(keys[k][0])
        except (
            Exception
        ):  # a lookup plugin failing must not stop ingest; duplicates can be merged later
            log.exception(
                "resolve_identity failed for %s/%s; the identity gets its own customer",
                k[0],
                loggable(k[1]),  # an e-mail address or phone number on some channels
            )
            continue
        if named:
            hinted[k] = named
    hinted_found = _lookup_identities(session, {p for ps in hinted.values() for p in ps})

    # Decide, in order, which customer each new identity joins.  New customers are keyed by
    # their e-mail/phone so that two new identities of one person in one batch share one.
    decision: dict[tuple[str, str], tuple[str, Any]] = {}
    new_customers: dict[Any, dict[str, Any]] = {}
    batch_contacts: dict[str, Any] = {}
    for k in missing:
        it, author = keys[k]
        if it.customer_id is not None:
            if it.customer_id not in known_manual:
                errors[k] = f"no customer {it.customer_id}"
                continue
            decision[k] = ("manual", it.customer_id)
        elif author.email and author.email in by_email:
            decision[k] = ("email", by_email[author.email])
        elif author.phone and author.phone in by_phone:
            decision[k] = ("phone", by_phone[author.phone])
        elif any(p in hinted_found for p in hinted.get(k, ())):
            p = next(p for p in hinted[k] if p in hinted_found)
            decision[k] = ("plugin", hinted_found[p].customer_id)
        else:
            contact = next(
                (c for c in (author.email, author.phone) if c and c in batch_contacts), None
            )
            token = batch_contacts[contact] if contact else ("new", k)
            if not contact:
                new_customers[token] = {
                    "display_name": author.display_name
                    or author.handle
                    or author.email
                    or author.phone,
                    "email": author.email,
                    "phone": author.phone,
                    "attributes": {},
                }
                for c in (author.email, author.phone):
                    if c:
                        batch_contacts[c] = token
            decision[k] = (
                "new" if not contact else ("email" if contact == author.email else "phone"),
                token,
            )

    token_ids: dict[Any, int] = {}
    if new_customers:
        tokens = list(new_customers)
        ids = insert_rows(session, Customer, [new_customers[t] for t in tokens])
        token_ids = dict(zip(tokens, ids, strict=True))

    resolved: dict[tuple[str, str], ResolvedAuthor] = {}
    new_keys = [k for k in missing if k in decision]
    if new_keys:
        rows = []
        for k in new_keys:
            how, ref = decision[k]
            cid = token_ids[ref] if isinstance(ref, tuple) else ref
            author = keys[k][1]
            rows.append(
                {
                    "channel": k[0],
                    "external_id": k[1],
                    "customer_id": cid,
                    "linked_by": how,
                    **{f: getattr(author, f) for f in _PROFILE_FIELDS},
                }
            )
        ids = insert_rows(session, Identity, rows)
        for k, row, iid in zip(new_keys, rows, ids, strict=True):
            resolved[k] = ResolvedAuthor(iid, row["customer_id"], created=True)
    for k, ident in existing.items():
        resolved[k] = ResolvedAuthor(ident.id, ident.customer_id, created=False)

    roots = root_ids(session, {r.customer_id for r in resolved.values()})
    resolved = {
        k: ResolvedAuthor(r.identity_id, roots[r.customer_id], r.created)
        for k, r in resolved.items()
    }
    return resolved, errors


def merge(
    session: Session, source_id: int, target_id: int, *, actor: str, reason: str | None = None
) -> CustomerMerge:
    """Merge customer ``source_id`` into ``target_id``; reversible with :func:`unmerge`.

    Writes the merge record and its audit entry in the caller's transaction.

    :raises NotFound: if either is missing (or of another brand than the session's).
    :raises MergeError: if they are the same person already, or the source is already merged.
    """
    source = session.get(Customer, source_id)
    target = session.get(Customer, target_id)
    if source is None or target is None:
        raise NotFound(N_("no customer %(id)s"), id=source_id if source is None else target_id)
    if source.merged_into_id is not None:
        raise MergeError(
            N_("customer %(id)s is already merged into %(into)s; unmerge it first"),
            id=source_id,
            into=source.merged_into_id,
        )
    root = root_ids(session, [target_id])[target_id]
    if root == source_id:
        raise MergeError(
            N_("customers %(a)s and %(b)s are already one record"), a=source_id, b=target_id
        )
    source.merged_into_id = root
    record = CustomerMerge(
        source_id=source_id,
        target_id=root,
        actor=actor,
        reason=reason,
        details={"requested_target": target_id},
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="customer.merge",
        target_type="customer",
        target_id=source_id,
        details={"into": root, "reason": reason},
    )
    return record


def unmerge(session: Session, customer_id: int, *, actor: str) -> CustomerMerge:
    """Undo the active merge of ``customer_id``.

    Cases opened on the surviving record after the merge whose customer messages all came
    from this customer's own identities go back to it, each with a case event; the unmerge
    gets its audit entry, in the caller's transaction.

    :raises NotFound: if there is no such customer.
    :raises MergeError: if the customer is not merged.
    """
    source = session.get(Customer, customer_id)
    if source is None:
        raise NotFound(N_("no customer %(id)s"), id=customer_id)
    record = session.scalars(
        sa.select(CustomerMerge)
        .where(CustomerMerge.source_id == customer_id, CustomerMerge.unmerged_at.is_(None))
        .order_by(CustomerMerge.id.desc())
    ).first()
    if source.merged_into_id is None or record is None:
        raise MergeError(N_("customer %(id)s is not merged into another record"), id=customer_id)
    own = set(family_ids(session, customer_id))
    own_identities = sa.select(Identity.id).where(Identity.customer_id.in_(own))
    # Messages stored on the surviving record while merged go back to their author's record.
    session.execute(
        sa.update(Interaction)
        .where(
            Interaction.customer_id == record.target_id,
            Interaction.identity_id.in_(own_identities),
        )
        .values(customer_id=customer_id)
    )
    moved = []
    # A case of the survivor whose customer messages all come from this customer's own
    # identities can only have been opened during the merge: it goes back too.
    for case in session.scalars(sa.select(Case).where(Case.customer_id == record.target_id)):
        authors = set(
            session.scalars(
                sa.select(Identity.customer_id)
                .join(Interaction, Interaction.identity_id == Identity.id)
                .where(Interaction.case_id == case.id, Interaction.direction == "inbound")
            )
        )
        if authors and authors <= own:
            case.customer_id = customer_id
            session.add(
                CaseEvent(
                    case_id=case.id,
                    at=utcnow(),
                    actor=actor,
                    action="customer",
                    from_value=str(record.target_id),
                    to_value=str(customer_id),
                    note=f"unmerge of customer {customer_id}",
                    data={},
                )
            )
            moved.append(case.id)
    source.merged_into_id = None
    record.unmerged_at = utcnow()
    record.unmerged_by = actor
    record.details = {**record.details, "cases_returned": moved}
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="customer.unmerge",
        target_type="customer",
        target_id=customer_id,
        details={"from": record.target_id, "cases_returned": moved},
    )
    return record


@dataclass
class DuplicateSuggestion:
    a: int
    b: int
    score: float
    evidence: list[str] = field(default_factory=list)


def _shared_contacts(session: Session, column: str) -> list[tuple[str, set[int]]]:
    ident_col = getattr(Identity, column)
    cust_col = getattr(Customer, column)
    pairs = sa.union_all(
        sa.select(ident_col.label("v"), Identity.customer_id.label("c")).where(
            ident_col.is_not(None)
        ),
        sa.select(cust_col.label("v"), Customer.id.label("c")).where(cust_col.is_not(None)),
    ).subquery()
    shared = (
        sa.select(pairs.c.v).group_by(pairs.c.v).having(sa.func.count(sa.distinct(pairs.c.c)) > 1)
    ).scalar_subquery()
    groups: dict[str, set[int]] = defaultdict(set)
    for v, c in session.execute(sa.select(pairs.c.v, pairs.c.c).where(pairs.c.v.in_(shared))):
        groups[v].add(c)
    return list(groups.items())


def suggest_duplicates(
    session: Session, *, min_score: float = 0.6, limit: int = 50
) -> list[DuplicateSuggestion]:
    """Suggest pairs of customer records that are probably the same person; merge nothing.

    Evidence: the same e-mail address (0.95) or phone number (0.9) on two records, and
    similar names or handles across channels (up to 0.75; names are compared after Turkish
    case folding and diacritic folding, so "Ayşe Yılmaz" and "ayse yilmaz" match).
    """
    found: dict[tuple[int, int], DuplicateSuggestion] = {}

    def add(a: int, b: int, score: float, why: str) -> None:
        a, b = min(a, b), max(a, b)
        s = found.setdefault((a, b), DuplicateSuggestion(a, b, 0.0))
        s.score = 1 - (1 - s.score) * (1 - score)
        s.evidence.append(why)

    all_ids: set[int] = set()
    contact_groups = []
    for column, weight in (("email", 0.95), ("phone", 0.9)):
        for value, ids in _shared_contacts(session, column):
            contact_groups.append((column, weight, value, ids))
            all_ids |= ids
    names: dict[int, set[str]] = defaultdict(set)
    for cid, dn, handle in session.execute(
        sa.select(Identity.customer_id, Identity.display_name, Identity.handle)
    ):
        for n in (dn, handle):
            if n:
                names[cid].add(n)
    all_ids |= set(names)
    roots = root_ids(session, all_ids)

    for column, weight, value, ids in contact_groups:
        rs = sorted({roots[i] for i in ids})
        for a, b in itertools.combinations(rs, 2):
            add(a, b, weight, f"same {column} {value}")

    by_root: dict[int, set[str]] = defaultdict(set)
    for cid, ns in names.items():
        by_root[roots[cid]] |= ns
    blocks: dict[str, set[int]] = defaultdict(set)
    for cid, ns in by_root.items():
        for n in ns:
            for tok in text.normalize(n).replace("_", " ").replace(".", " ").split():
                if len(tok) >= 3:
                    blocks[tok].add(cid)
    compared: set[tuple[int, int]] = set()
    for members in blocks.values():
        if len(members) > 200:  # a common first name alone says nothing
            continue
        for a, b in itertools.combinations(sorted(members), 2):
            if (a, b) in compared:
                continue
            compared.add((a, b))
            best, pair = 0.0, ("", "")
            for na in by_root[a]:
                for nb in by_root[b]:
                    sim = text.name_similarity(na, nb)
                    if sim > best:
                        best, pair = sim, (na, nb)
            if best >= 0.8:
                add(a, b, 0.75 * best, f"similar names {pair[0]!r} and {pair[1]!r} ({best:.2f})")
    out = [s for s in found.values() if s.score >= min_score]
    out.sort(key=lambda s: (-s.score, s.a, s.b))
    return out[:limit]
