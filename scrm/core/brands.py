"""Brands: the ``[brands.<key>]`` sections, their rows, and which brand a message belongs to.

A deployment serves one brand (the implicit ``default``) or several, for an agency.  What a
brand owns is isolated by :mod:`scrm.core.tenancy`; this module knows the brands by key and
decides a message's brand when it is ingested:

1. the brand that owns the account it arrived on (``account``; ``[brands.x] accounts``);
2. else the brand of the case or customer it names (an answer recorded on a case);
3. else the brand of whoever ingests it (``scrm ingest --brand``, a brand's API key);
4. else the default brand.

A caller limited to one brand cannot put a message into another: a record naming another
brand's account is rejected.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from scrm.core.channel import Channel, PermanentSendError
from scrm.core.db import utcnow
from scrm.core.errors import N_, NotFound
from scrm.core.models import Brand, Case, Customer
from scrm.core.tenancy import DEFAULT_BRAND_ID, DEFAULT_BRAND_KEY, brand_scope

if TYPE_CHECKING:
    from scrm.core.config import Config
    from scrm.core.pipeline import Record

__all__ = ["DEFAULT_BRAND_KEY", "BrandDirectory", "BrandOut", "list_brands", "sync_brands"]


class BrandOut(BaseModel):
    """A brand as listed."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    key: str
    name: str
    timezone: str | None
    created_at: datetime


def sync_brands(session: Session, config: Config) -> None:
    """Create the configured brands that have no row yet, and keep their names and zones."""
    have = {b.key: b for b in session.scalars(sa.select(Brand))}
    for key, brand in config.brands.items():
        row = have.get(key)
        if row is None:
            session.add(
                Brand(key=key, name=brand.name, timezone=brand.timezone, created_at=utcnow())
            )
        elif (row.name, row.timezone) != (brand.name, brand.timezone):
            row.name, row.timezone = brand.name, brand.timezone
    session.flush()


def list_brands(session: Session) -> list[BrandOut]:
    """Every brand, oldest first; a brand-scoped session sees its own only."""
    q = sa.select(Brand).order_by(Brand.id)
    scope = brand_scope(session)
    if scope is not None:
        q = q.where(Brand.id == scope)
    return [BrandOut.model_validate(b) for b in session.scalars(q)]


@dataclass(frozen=True)
class BrandDirectory:
    """The brands by key and id, and the accounts each owns (a snapshot of the rows)."""

    ids: dict[str, int]
    accounts: dict[tuple[str, str], int]

    @classmethod
    def load(cls, session: Session, config: Config) -> BrandDirectory:
        ids = {k: v for k, v in session.execute(sa.select(Brand.key, Brand.id))}
        accounts = {
            (channel, account): ids[key]
            for key, brand in config.brands.items()
            for channel, names in brand.accounts.items()
            for account in names
        }
        return cls(ids, accounts)

    def id_of(self, key: str) -> int:
        """The id of brand ``key``.  :raises NotFound: naming the brands there are."""
        try:
            return self.ids[key]
        except KeyError:
            known = ", ".join(sorted(self.ids))
            raise NotFound(
                N_("no brand %(key)r; brands: %(known)s"), key=key, known=known
            ) from None

    def key_of(self, brand_id: int | None) -> str | None:
        return next((k for k, v in self.ids.items() if v == brand_id), None)

    def owners(self, account: Channel) -> set[int]:
        """The brands that list one of ``account``'s :meth:`~Channel.account_ids`."""
        name = account.name
        return {
            self.accounts[(name, i)] for i in account.account_ids() if (name, i) in self.accounts
        }

    def readable(self, account: Channel, brand: int | None) -> bool:
        """Whether a caller of ``brand`` (None: across brands) reads ``account``: any
        account, but another brand's (one that only other brands list)."""
        owners = self.owners(account)
        return brand is None or not owners or brand in owners

    def sender(
        self, channel: Channel, brand: int, account: str | None = None
    ) -> tuple[Channel, str | None]:
        """Choose the account a reply of ``brand`` goes out from on ``channel``.

        It is ``account``, the one the customer's message arrived at, when it is one of the
        channel's accounts and ``brand``'s; else the first of the channel's accounts that
        ``brand`` lists (``[brands.<key>] accounts``), as that account sends by default.  An
        account no brand lists is the default brand's.  A channel without accounts of its
        own (:meth:`Channel.account_ids` empty for all) sends as it always did.

        :param channel: the configured channel (its first account).
        :param account: the brand's account the customer wrote to (None: not known).
        :returns: the account's instance and the account the reply leaves from
            (:meth:`Channel.reply_account`; None: no accounts of its own).
        :raises PermanentSendError: when ``account`` belongs to another brand, when ``brand``
            owns none of the channel's accounts, or when the one it owns speaks for another
            brand too: a reply never leaves from another brand's account.
        """
        family = channel.accounts()
        if not any(ch.account_ids() for ch in family):
            return channel, None
        if account is not None:
            arrival = self._arrival(channel, brand, account)
            if arrival is not None:
                return arrival, arrival.reply_account(account)
        name = channel.name
        for ch in family:
            if self._speaks_for(ch, brand):
                return ch, ch.reply_account(None)
        key = self.key_of(brand) or str(brand)
        raise PermanentSendError(
            f"brand {key!r} has no {name} account to reply from: configure it under "
            f"[channels.{name}.accounts.<label>] and list it in [brands.{key}] accounts"
        )

    def _arrival(self, channel: Channel, brand: int, account: str) -> Channel | None:
        """The instance of ``channel`` that speaks for ``account`` when it is ``brand``'s;
        None when no instance speaks for it or it is the default brand's by the implicit
        rule (the caller falls back on the brand's own account).

        :raises PermanentSendError: when ``account`` (or its instance) is another brand's.
        """
        ch = channel.for_account(account)
        listed = self.accounts.get((channel.name, account))
        owners = {listed} if listed is not None else self.owners(ch) if ch is not None else set()
        if owners and brand not in owners:
            other = ", ".join(sorted(repr(self.key_of(b) or str(b)) for b in owners))
            key = self.key_of(brand) or str(brand)
            raise PermanentSendError(
                f"the customer wrote to {channel.name} account {account!r} of brand {other}, "
                f"not of the case's brand {key!r}: a reply never leaves from another brand's "
                "account"
            )
        if ch is None or not self._speaks_for(ch, brand):
            return None
        return ch

    def _speaks_for(self, ch: Channel, brand: int) -> bool:
        """Whether the account instance ``ch`` is ``brand``'s (one no brand lists is the
        default brand's).

        :raises PermanentSendError: when it is ``brand``'s and another brand's too.
        """
        owners = self.owners(ch) or {DEFAULT_BRAND_ID}
        if brand not in owners:
            return False
        if len(owners) > 1:
            keys = ", ".join(sorted(str(self.key_of(b) or b) for b in owners))
            raise PermanentSendError(
                f"{ch.name} account {ch.account_label!r} speaks for brands {keys}: give each "
                f"brand its own [channels.{ch.name}.accounts.<label>]"
            )
        return True

    def split(
        self, session: Session, batch: Sequence[Record], brand: int | None
    ) -> list[tuple[int | None, list[Record]]]:
        """Group ``batch`` by the brand each record belongs to (the module's rules), in order.

        :param brand: the brand of whoever ingests (their scope), None: across brands.
        :returns: (brand id, records) pairs; records refused here come back as rejects in the
            group of ``brand``.
        """
        from scrm.core.pipeline import Rejected, _with_payload

        scope = brand_scope(session)
        given = scope if scope is not None else brand
        parents = _parent_brands(session, batch) if scope is None else ({}, {})
        groups: dict[int | None, list[Record]] = defaultdict(list)
        for rec in batch:
            if isinstance(rec, Rejected):
                groups[given].append(rec)
                continue
            it, origin = rec
            owner = self.accounts.get((it.channel, it.account)) if it.account else None
            if owner is not None and given is not None and owner != given:
                groups[given].append(
                    Rejected(
                        _with_payload(origin, it),
                        f"account {it.channel}:{it.account} belongs to another brand",
                        "account",
                    )
                )
                continue
            cases, customers = parents
            groups[
                owner
                or (cases.get(it.case_id) if it.case_id else None)
                or (customers.get(it.customer_id) if it.customer_id else None)
                or given
                or DEFAULT_BRAND_ID
            ].append(rec)
        return list(groups.items())


def _parent_brands(
    session: Session, batch: Iterable[Record]
) -> tuple[dict[int, int], dict[int, int]]:
    """The brands of the cases and customers the records name (an unscoped session)."""
    from scrm.core.pipeline import Rejected

    case_ids: set[int] = set()
    customer_ids: set[int] = set()
    for rec in batch:
        if not isinstance(rec, Rejected):
            if rec[0].case_id:
                case_ids.add(rec[0].case_id)
            if rec[0].customer_id:
                customer_ids.add(rec[0].customer_id)

    def brands_of(model: Any, ids: set[int]) -> dict[int, int]:
        if not ids:
            return {}
        q = sa.select(model.id, model.brand_id).where(model.id.in_(ids))
        return {key: brand for key, brand in session.execute(q)}

    return brands_of(Case, case_ids), brands_of(Customer, customer_ids)
