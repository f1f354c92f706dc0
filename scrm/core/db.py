"""Engine, declarative base, column types and migrations.

One URL selects the database: SQLite (the embedded default) or PostgreSQL.  Alembic's
configuration is built here in code, so users need no ``alembic.ini``; the revisions ship
inside the package (``scrm/migrations``).
"""

from __future__ import annotations

import ast
import importlib.util
import logging
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker

from scrm.core.tenancy import ALL_BRANDS, stamp_rows

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # alembic is imported when a migration runs, not by every command
    from alembic.config import Config as AlembicConfig

__all__ = [
    "READ_ONLY",
    "Base",
    "JSONType",
    "UTCDateTime",
    "alembic_config",
    "allocate_ids",
    "chunks",
    "current_revision",
    "downgrade",
    "group_by_channel",
    "head_revision",
    "include_name",
    "insert_rows",
    "known_revisions",
    "make_engine",
    "make_sessionmaker",
    "normalize_url",
    "schema_diff",
    "upgrade",
    "utcnow",
]

T = TypeVar("T")

READ_ONLY = "scrm_read_only"
"""Execution option of connections that only read (see :func:`make_engine`)."""

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC.

    SQLite has no time zones and hands back naive values; they are UTC by construction, so
    the zone is re-attached on the way out.  Naive values are refused on the way in.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: scrm stores timezone-aware times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

intpk = Annotated[int, mapped_column(primary_key=True)]
created_ts = Annotated[datetime, mapped_column(UTCDateTime, default=utcnow)]
updated_ts = Annotated[datetime, mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)]


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType, list[Any]: JSONType}  # noqa: RUF012


def chunks(seq: Sequence[T], n: int = 500) -> Iterator[Sequence[T]]:
    """Split ``seq`` for ``IN (...)`` lists that stay well under every database's parameter limit."""
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def group_by_channel(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Group ``(channel, id)`` pairs by channel, so that each channel is one indexed query."""
    out: dict[str, list[str]] = defaultdict(list)
    for channel, value in pairs:
        out[channel].append(value)
    return out


def insert_rows(session: Any, model: type[Base], rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` into ``model``'s table with keys chosen up front; return the keys.

    With the keys known beforehand a batch goes in as one plain executemany (no
    ``RETURNING``, no per-row round trip) and each row's key is set in its dict.
    PostgreSQL draws them from the column's sequence in one statement, so concurrent
    writers never collide.  SQLite continues after the current maximum, which is what it
    would do itself: scrm opens every SQLite transaction with ``BEGIN IMMEDIATE``, so no
    other writer can insert in between.  A brand-scoped session's rows get its brand
    (:mod:`scrm.core.tenancy`).
    """
    stamp_rows(session, model, rows)
    ids = allocate_ids(session, model, len(rows))
    for row, key in zip(rows, ids, strict=True):
        row["id"] = key
    if rows:
        session.execute(sa.insert(cast(sa.Table, model.__table__)), rows)
    return ids


def allocate_ids(session: Any, model: type[Base], n: int) -> list[int]:
    """Reserve ``n`` primary keys of ``model`` (see :func:`insert_rows`).

    On SQLite, keys already given to rows that are not flushed yet are not seen: take all
    the keys of a batch in one call, or flush in between.
    """
    if n <= 0:
        return []
    table = cast(sa.Table, model.__table__)
    if session.get_bind().dialect.name == "postgresql":
        seq = sa.func.pg_get_serial_sequence(table.name, "id")
        rows = session.execute(
            sa.select(sa.func.nextval(seq)).select_from(sa.func.generate_series(1, n))
        )
        return [r[0] for r in rows]
    # Keys are the table's, whatever brand a session is limited to.
    top = sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))
    start = session.scalar(top.execution_options(**{ALL_BRANDS: True})) + 1
    return list(range(start, start + n))


def normalize_url(url: str) -> str:
    """Pick the psycopg 3 driver for bare ``postgresql://`` URLs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with scrm's connection settings.

    SQLite gets foreign keys, WAL, a busy timeout, and the documented workaround that lets
    SQLAlchemy control transactions (so SAVEPOINT works): pysqlite's own transaction
    handling is switched off and BEGIN is emitted by us.
    """
    url = normalize_url(url)
    # Bound parameters are message text, handles and addresses: an error must not print them.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # Deleted and overwritten content is zeroed on disk instead of lingering in free
            # pages, so an erased person's data cannot be read back from the file.
            cur.execute("PRAGMA secure_delete=ON")
            if ":memory:" not in url and "mode=memory" not in url:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "close")
        def _on_close(dbapi_conn: Any, _record: Any) -> None:
            # Nothing else gathers SQLite's table statistics, and without them its planner
            # picks the wrong index for the inbox's counts (10x slower at 100,000 cases). As
            # SQLite advises, a closing connection analyses the tables its queries would have
            # planned better with statistics: bounded work (analysis_limit), and never a wait
            # for another writer's lock (it is skipped and done by a later connection).
            try:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA busy_timeout=0")
                cur.execute("PRAGMA analysis_limit=400")
                cur.execute("PRAGMA optimize")
                cur.close()
            except sqlite3.Error as exc:  # a read-only file, or another writer holds the lock
                log.debug("PRAGMA optimize skipped: %s", exc)

        @event.listens_for(engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            # IMMEDIATE takes the write lock up front: two writers wait for each other
            # instead of failing with "database is locked" on upgrade from a read lock.
            # A read-only session (READ_ONLY) takes no lock: in WAL mode it reads the last
            # committed state while an ingest batch is being written.
            read_only = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, **kwargs)


def make_sessionmaker(engine: Engine, info: dict[str, Any] | None = None) -> sessionmaker[Any]:
    """Sessions on ``engine``; ``info`` is each session's (a brand scope, say)."""
    factory = sessionmaker(engine, expire_on_commit=False, info=info or {})
    event.listen(factory, "before_flush", _choose_keys)
    return factory


def _choose_keys(session: Session, _context: Any, _instances: Any) -> None:
    """Give the new rows of a flush their keys first, a block per table (see :func:`allocate_ids`).

    Without keys the ORM must read each generated key back; on SQLite it then sends one
    ``INSERT ... RETURNING`` per row (SQLite does not promise the order of RETURNING rows
    of a multi-row insert).  With them, each table's new rows go in as one executemany.
    Keys follow the order in which the rows were added, so events keep their sequence.
    """
    pending: dict[type[Any], list[Any]] = defaultdict(list)
    taken: dict[type[Any], int] = defaultdict(int)
    for obj in session.new:
        model = type(obj)
        if _integer_id(model):
            if obj.id is None:
                pending[model].append(obj)
            else:  # a key set by hand, not in the table yet
                taken[model] = max(taken[model], obj.id)
    for model, objs in pending.items():
        if len(objs) < 2:
            continue  # reading back one key costs no more than choosing it
        objs.sort(key=lambda o: sa.inspect(o).insert_order)
        keys = allocate_ids(session, model, len(objs))
        shift = max(0, taken[model] - keys[0] + 1)
        for obj, key in zip(objs, keys, strict=True):
            obj.id = key + shift


_INTEGER_ID: dict[type[Any], bool] = {}


def _integer_id(model: type[Any]) -> bool:
    """Whether ``model``'s primary key is one integer column ``id`` (every scrm table's is)."""
    if model not in _INTEGER_ID:
        pk = sa.inspect(model).primary_key
        _INTEGER_ID[model] = (
            len(pk) == 1 and pk[0].name == "id" and isinstance(pk[0].type, sa.Integer)
        )
    return _INTEGER_ID[model]


def alembic_config(
    engine: Engine | None = None, extra_locations: Iterable[str] = ()
) -> AlembicConfig:
    """Build Alembic's configuration in code (no alembic.ini needed).

    :param engine: the engine to migrate; handed to ``env.py`` through ``attributes``.
    :param extra_locations: plugin version locations (``register_migrations`` hook).
    """
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", "scrm:migrations")
    locations = ["scrm:migrations/versions", *extra_locations]
    cfg.set_main_option("version_locations", " ".join(locations))
    cfg.set_main_option("path_separator", "space")
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "heads", extra_locations: Iterable[str] = ()) -> None:
    """Bring the database at ``engine`` to ``revision`` (all heads by default)."""
    from alembic import command

    command.upgrade(alembic_config(engine, extra_locations), revision)


def downgrade(engine: Engine, revision: str, extra_locations: Iterable[str] = ()) -> None:
    from alembic import command

    command.downgrade(alembic_config(engine, extra_locations), revision)


def head_revision(extra_locations: Iterable[str] = ()) -> set[str]:
    """The newest revision of each migration branch (core's and the plugins')."""
    heads = _declared_heads(["scrm:migrations/versions", *extra_locations])
    if heads is not None:
        return heads
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config(None, extra_locations)).get_heads())


#: Files Alembic reads as revisions in a version location (its own rule).
_REVISION_FILE = re.compile(r"^(?!\.#|__init__)[^/]*\.py$")


def known_revisions(extra_locations: Iterable[str] = ()) -> set[str] | None:
    """Every revision of core's and the given locations (None when one is not literal)."""
    down = _declared(["scrm:migrations/versions", *extra_locations])
    return None if down is None else set(down)


def _declared_heads(locations: Iterable[str]) -> set[str] | None:
    """Read the heads from the ``revision``/``down_revision`` literals of the revision files.

    Every command checks the schema first, and Alembic imports every revision to find the
    heads (a tenth of a second or more); the files state both as literals.  ``None`` when a
    location or a file is not that simple (a computed value): ask Alembic.  A ``depends_on``
    (a plugin's revision that needs one of core's, say) orders the upgrade but makes no
    parent: it leaves the heads as they are.
    """
    down = _declared(locations)
    if down is None:
        return None
    below: set[object] = set()
    for parent in down.values():
        below.update(parent if isinstance(parent, tuple | list) else [parent])
    return {rev for rev in down if rev not in below}


def _declared(locations: Iterable[str]) -> dict[str, object] | None:
    """Each revision's ``down_revision``, read from the files (see :func:`_declared_heads`)."""
    down: dict[str, object] = {}
    for location in locations:
        folder = _location_folder(location)
        if folder is None:
            return None
        for path in folder.iterdir():
            if not _REVISION_FILE.match(path.name):
                continue
            values = _module_literals(path, ("revision", "down_revision", "depends_on"))
            if values is None or not isinstance(values.get("revision"), str):
                return None
            down[str(values["revision"])] = values.get("down_revision")
    return down


def _location_folder(location: str) -> Path | None:
    package, sep, sub = location.partition(":")
    if not sep:
        folder = Path(location)
    else:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            return None
        folder = Path(next(iter(spec.submodule_search_locations))) / sub
    return folder if folder.is_dir() else None


def _module_literals(path: Path, names: Sequence[str]) -> dict[str, object] | None:
    """The literal values of top-level ``name = ...`` assignments before the first function;
    None if one is not literal, or if one of ``names`` is assigned after it."""
    found: dict[str, object] = {}
    # Only the head is parsed: the operations below it are most of a revision's text.
    head, _, rest = path.read_text(encoding="utf-8").partition("\ndef ")
    if re.search(rf"^({'|'.join(map(re.escape, names))})\b", rest, re.MULTILINE):
        return None
    try:
        body = ast.parse(head, str(path)).body
    except SyntaxError:  # a decorator cut from its function, say: ask Alembic
        return None
    for node in body:
        target = value = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and target.id in names and value is not None:
            try:
                found[target.id] = ast.literal_eval(value)
            except ValueError:
                return None
    return found


def current_revision(engine: Engine) -> set[str]:
    """The revisions the database is at (empty for a database never migrated)."""
    # Alembic's own table, read without importing Alembic (every command checks it).
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return set()
        return set(conn.scalars(sa.text("SELECT version_num FROM alembic_version")))


def schema_diff(engine: Engine) -> list[Any]:
    """Return the differences between the ORM models and the database (empty = no drift).

    The models are core's and those of the plugins imported so far
    (:meth:`~scrm.core.app.Scrm.schema_diff` imports the ones ``register_migrations`` names).
    """
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from scrm.core import models  # noqa: F401  (core's tables; plugins import theirs)

    def declared(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
        # A table no loaded model declares is a plugin's that is disabled or uninstalled
        # (its branch made it), not drift.
        return not (type_ == "table" and reflected and other is None)

    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "include_name": include_name, "include_object": declared},
        )
        return list(compare_metadata(ctx, Base.metadata))


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Leave procrastinate's tables (the worker's job queue on PostgreSQL) out of comparisons.

    They are created by a migration from procrastinate's own schema script, not from models.
    """
    return not (type_ == "table" and name is not None and name.startswith("procrastinate_"))
