"""Customer records: merge, unmerge and erase, each one transaction with its audit entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from scrm.core import customers, privacy

if TYPE_CHECKING:
    from scrm.core.app import Scrm

__all__ = ["MergeDone", "erase", "merge", "unmerge"]


@dataclass(frozen=True)
class MergeDone:
    """A merge or unmerge as committed."""

    merge_id: int
    source_id: int
    target_id: int
    """The record that survived (the root of the requested target)."""
    cases_returned: list[int]
    """Unmerge: the cases that went back to the source record."""


def merge(
    app: Scrm, source_id: int, target_id: int, *, actor: str, reason: str | None = None
) -> MergeDone:
    """Merge customer ``source_id`` into ``target_id`` (reversible with :func:`unmerge`).

    :raises MergeError: when the merge cannot be done; the message says why.
    """
    with app.session() as s:
        record = customers.merge(s, source_id, target_id, actor=actor, reason=reason)
        return MergeDone(record.id, source_id, record.target_id, [])


def unmerge(app: Scrm, customer_id: int, *, actor: str) -> MergeDone:
    """Undo the merge of ``customer_id``; cases opened during the merge go back to it.

    :raises MergeError: when the customer is not merged.
    """
    with app.session() as s:
        record = customers.unmerge(s, customer_id, actor=actor)
        returned = list(record.details.get("cases_returned", []))
        return MergeDone(record.id, customer_id, record.target_id, returned)


def erase(app: Scrm, customer_id: int, *, actor: str) -> privacy.ErasureReport:
    """Erase a person's personal data across their merge family (KVKK/GDPR), irreversibly.

    Plugins delete their files before commit (``erase_customer_data``); after commit the
    freed database pages are overwritten, so that no copy stays in the file.

    :raises NotFound: when there is no such customer.
    """
    with app.session() as s:
        report = privacy.erase_customer(s, customer_id, actor, app.hooks)
    privacy.purge_deleted(app.engine)
    return report
