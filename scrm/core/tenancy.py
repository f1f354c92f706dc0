"""Brand scoping: a session scoped to a brand reads and writes only that brand's rows.

Several brands can share one deployment (docs/operators.md, "Several brands").  The rows that
belong to a brand carry ``brand_id`` (:class:`BrandOwned`: customers, cases, messages...;
:class:`BrandOptional`: agents, API keys, webhooks, audit entries, where NULL means the agency,
across brands).  Isolation is one mechanism, applied where every query passes, not a check
in each route or command:

- a session whose ``info`` holds :data:`SCOPE` (see :func:`scoped`) adds ``brand_id = <its
  brand>`` to every ORM SELECT, UPDATE and DELETE that touches such a table, joins and
  ``Session.get`` included, so another brand's rows do not exist for it;
- its new rows get its brand, and a new row of another brand is refused;
- in an unscoped session (an agency administrator, the worker) a new row without a brand
  takes its parent's (a reply takes its case's), else the default brand.

The default brand (id 1) exists in every database: a single-brand installation never
names a brand, and everything it stores belongs to that one.
"""

from __future__ import annotations

from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, with_loader_criteria
from sqlalchemy.sql.util import find_tables

from scrm.core.errors import N_, Forbidden

__all__ = [
    "ALL_BRANDS",
    "DEFAULT_BRAND_ID",
    "DEFAULT_BRAND_KEY",
    "SCOPE",
    "BrandLinked",
    "BrandOptional",
    "BrandOwned",
    "BrandScopeError",
    "BrandShared",
    "brand_scope",
    "scoped",
    "stamp_rows",
]

#: The implicit brand every database has, and that single-brand installations use.
DEFAULT_BRAND_ID = 1
#: Its key.
DEFAULT_BRAND_KEY = "default"
#: ``Session.info`` key of a session's brand.
SCOPE = "scrm.brand"
#: Execution option of the few statements that must see every brand's rows whatever the
#: session (choosing a table's next key).
ALL_BRANDS = "scrm_all_brands"


class BrandScopeError(Forbidden):
    """A caller limited to one brand tried to change a row of another brand or of the agency."""


class _HasBrand:
    brand_id: Any
    __brand_parent__: ClassVar[tuple[str, str] | None] = None
    """(foreign key attribute, parent table): where a new row without a brand takes it from."""


class BrandOwned(_HasBrand):
    """A row of exactly one brand."""

    brand_id: Mapped[int] = mapped_column(
        sa.ForeignKey("brands.id"), index=True, server_default=str(DEFAULT_BRAND_ID)
    )


class BrandOptional(_HasBrand):
    """A row of one brand, or of none: the agency's, seen only across brands."""

    brand_id: Mapped[int | None] = mapped_column(sa.ForeignKey("brands.id"), index=True)


class BrandLinked:
    """A row with no brand of its own that belongs to the brand of the row it points at
    (a department module's lead, of its customer).  A brand-scoped session sees only those of
    its brand.

    Set ``__brand_parent__`` to (foreign key attribute, parent table), or override
    :meth:`brand_criteria`.
    """

    __brand_parent__: ClassVar[tuple[str, str]]
    _linked: ClassVar[list[type[BrandLinked]]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        BrandLinked._linked.append(cls)

    @classmethod
    def brand_criteria(cls, brand: int) -> sa.ColumnElement[bool]:
        """The rows of ``brand``: those whose parent is of that brand."""
        attribute, table = cls.__brand_parent__
        parent = sa.table(table, sa.column("id"), sa.column("brand_id"))
        column: Any = getattr(cls, attribute)
        return column.in_(sa.select(parent.c.id).where(parent.c.brand_id == brand))


class BrandShared(_HasBrand):
    """A row of one brand, or of none: the agency's, seen (not changed) by every brand.

    Agents: the agency's people work every brand's cases.
    """

    brand_id: Mapped[int | None] = mapped_column(sa.ForeignKey("brands.id"), index=True)


def brand_scope(session: Session) -> int | None:
    """The brand ``session`` is limited to, or None across brands."""
    value = session.info.get(SCOPE)
    return value if isinstance(value, int) else None


def scoped(brand_id: int | None) -> dict[str, Any]:
    """``info`` for a session limited to ``brand_id`` (None: across brands)."""
    return {SCOPE: brand_id}


@event.listens_for(Session, "do_orm_execute")
def _limit_to_brand(state: ORMExecuteState) -> None:
    brand = brand_scope(state.session)
    if brand is None or state.execution_options.get(ALL_BRANDS):
        return
    # INSERT ... SELECT (the SLA sweep's alerts) copies only the rows its SELECT may see.
    from_select = state.is_insert and getattr(state.statement, "select", None) is not None
    if not (state.is_select or state.is_update or state.is_delete or from_select):
        return
    if not state.is_orm_statement:
        _refuse_unscoped(state.statement)
        return
    # The agency's shared rows (agents) are read by every brand, and changed by none.
    options = [
        with_loader_criteria(mixin, lambda cls: cls.brand_id == brand, include_aliases=True)
        for mixin in (BrandOwned, BrandOptional, *(() if state.is_select else (BrandShared,)))
    ]
    if state.is_select:
        options.append(
            with_loader_criteria(
                BrandShared,
                lambda cls: sa.or_(cls.brand_id == brand, cls.brand_id.is_(None)),
                include_aliases=True,
            )
        )
    options += [
        with_loader_criteria(linked, linked.brand_criteria(brand), include_aliases=True)
        for linked in BrandLinked._linked
        if "__tablename__" in linked.__dict__
    ]
    state.statement = state.statement.options(*options)


def _refuse_unscoped(statement: Any) -> None:
    """Fail closed: a statement the ORM does not see as one (no mapped entity or column in
    its SELECT list or FROM, say ``count(*)`` of a ``CASE`` over ``cases``) gets no brand
    criteria, so a brand-scoped session refuses it rather than read every brand's rows.
    Name the model (``select_from(Case)``) to make it one."""
    owned = _owned_tables()
    touched = {str(getattr(t, "name", "")) for t in find_tables(statement, include_aliases=True)}
    if owned & touched:
        raise BrandScopeError(
            N_(
                "a brand-scoped session cannot run a statement on %(tables)s that names no "
                "model: select_from() the model"
            ),
            tables=sorted(owned & touched),
        )


_OWNED: dict[int, set[str]] = {}


def _owned_tables() -> set[str]:
    """The tables of brand-owned and brand-linked models (recomputed when models are added)."""
    from scrm.core.db import Base

    mappers = Base.registry.mappers
    if len(mappers) not in _OWNED:
        _OWNED.clear()
        _OWNED[len(mappers)] = {
            str(getattr(m.local_table, "name", ""))
            for m in mappers
            if issubclass(m.class_, _HasBrand | BrandLinked)
        }
    return _OWNED[len(mappers)]


@event.listens_for(Session, "before_flush")
def _stamp_new_rows(session: Session, _context: Any, _instances: Any) -> None:
    brand = brand_scope(session)
    if brand is not None:
        for obj in (*session.dirty, *session.deleted):
            if isinstance(obj, _HasBrand) and obj.brand_id != brand:
                raise BrandScopeError(
                    N_(
                        "a caller of one brand may not change this %(row)s: it belongs to the agency"
                    ),
                    row=type(obj).__name__.lower(),
                )
    for obj in session.new:
        if not isinstance(obj, _HasBrand):
            continue
        if brand is not None:
            if obj.brand_id is None:
                obj.brand_id = brand
            elif obj.brand_id != brand:
                raise BrandScopeError(
                    N_("a session of brand %(brand)s may not write a %(row)s of brand %(given)s"),
                    brand=brand,
                    row=type(obj).__name__,
                    given=obj.brand_id,
                )
        elif obj.brand_id is None and isinstance(obj, BrandOwned):
            obj.brand_id = _parent_brand(session, obj) or DEFAULT_BRAND_ID


def _parent_brand(session: Session, obj: _HasBrand) -> int | None:
    parent = type(obj).__brand_parent__
    if parent is None:
        return None
    attribute, table = parent
    key = getattr(obj, attribute)
    if key is None:
        return None
    rows = sa.table(table, sa.column("id"), sa.column("brand_id"))
    with session.no_autoflush:
        found: int | None = session.execute(
            sa.select(rows.c.brand_id).where(rows.c.id == key)
        ).scalar()
    return found


def stamp_rows(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    """Give rows inserted without the ORM (executemany) the session's brand.

    :raises BrandScopeError: a row names another brand than the session's.
    """
    brand = brand_scope(session)
    if brand is None or not issubclass(model, _HasBrand):
        return
    for row in rows:
        given = row.setdefault("brand_id", brand)
        if given != brand:
            raise BrandScopeError(
                N_("a session of brand %(brand)s may not write a %(row)s of brand %(given)s"),
                brand=brand,
                row=model.__name__,
                given=given,
            )
