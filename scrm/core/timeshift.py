"""Place recorded messages in time: move a whole input so that it ends at a chosen instant.

The bundled sample (and any recorded data set) was written on fixed dates; loaded as it is,
every case in it is years past its deadlines.  ``scrm ingest --as-of now`` (and every other
ingest path: ``scrm email import``, :meth:`scrm.core.app.Scrm.ingest`...) moves every message
of the input by one amount so that its newest message is at the given instant: order, gaps,
threads and the age of accounts are kept, so cases, deadlines and metrics are those of the
original data, seen from today.

The shift is applied here, to the parsed records, once for every channel; ``raw`` keeps the
payload exactly as it was received.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO

from scrm.core.bounds import check_instant
from scrm.core.pipeline import Record, Rejected
from scrm.core.schemas import Author, InboundInteraction

__all__ = ["Placement", "place"]


@dataclass(frozen=True)
class Placement:
    """Where to put an input in time.

    :param as_of: the instant the input's newest message moves to.
    :param newest: the instant of the input that moves to ``as_of``; None means the newest
        message of the input.  Give the same one to several inputs (the channels of one
        data set) to move them all by the same amount.
    """

    as_of: datetime
    newest: datetime | None = None


def place(records: Iterable[Record], placement: Placement) -> Iterator[Record]:
    """Yield ``records`` with every instant moved as ``placement`` says.

    Without ``placement.newest`` the input is read to its end first to find its newest
    message: the records wait in a temporary file, so memory stays bounded.  A message moved
    outside the years scrm accepts becomes a :class:`Rejected` naming ``created_at``.
    """
    if placement.newest is not None:
        yield from _shifted(records, placement.as_of - placement.newest)
        return
    with tempfile.TemporaryFile() as spool:
        count, newest = _spool(records, spool)
        spool.seek(0)
        delta = placement.as_of - newest if newest is not None else timedelta(0)
        yield from _shifted((pickle.load(spool) for _ in range(count)), delta)


def _spool(records: Iterable[Record], spool: IO[bytes]) -> tuple[int, datetime | None]:
    """Write ``records`` to ``spool``; return how many and the newest message's instant."""
    count, newest = 0, None
    for record in records:
        pickle.dump(record, spool, protocol=pickle.HIGHEST_PROTOCOL)
        count += 1
        if not isinstance(record, Rejected):
            at = record[0].created_at
            newest = at if newest is None or at > newest else newest
    return count, newest


def _shifted(records: Iterable[Record], delta: timedelta) -> Iterator[Record]:
    for record in records:
        if isinstance(record, Rejected) or not delta:
            yield record
            continue
        item, origin = record
        try:
            yield (_move(item, delta), origin)
        except (ValueError, OverflowError) as exc:
            yield Rejected(origin, f"moved by --as-of, {exc}", "created_at")


def _move(item: InboundInteraction, delta: timedelta) -> InboundInteraction:
    """``item`` with its instants (and its people's account creation) moved by ``delta``."""
    update: dict[str, object] = {"created_at": check_instant(item.created_at + delta)}
    for name in ("author", "recipient"):
        person: Author | None = getattr(item, name)
        if person is not None and person.account_created_at is not None:
            moved = check_instant(person.account_created_at + delta)
            update[name] = person.model_copy(update={"account_created_at": moved})
    return item.model_copy(update=update)
