"""The application object: configuration, plugins, database and pipeline in one place.

Embedding code opens one with :func:`scrm.open`::

    import scrm
    app = scrm.open("sqlite:///crm.db", migrate=True)
    report = app.ingest([{"channel": "phone", "external_id": "CALL-1", ...}])
    for case in app.cases(status="open"):
        print(case.id, case.subject)
"""

from __future__ import annotations

import copy
import importlib
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.orm import Session

from scrm.core import db, queries
from scrm.core.agents import ensure_departments
from scrm.core.brands import BrandDirectory, sync_brands
from scrm.core.channel import Channel
from scrm.core.config import Config, load_config
from scrm.core.context import PluginContext
from scrm.core.dispatch import Dispatcher
from scrm.core.errors import N_, ExitCode, NotFound, ScrmError
from scrm.core.logsafe import set_log_content
from scrm.core.models import Department, LabelCorrection, Reject
from scrm.core.plugins import (
    Hooks,
    PluginManager,
    get_plugin_manager,
    migration_locations,
    migrations,
    plugin_context,
)
from scrm.core.schemas import InboundInteraction
from scrm.core.state import get_state, set_state
from scrm.core.tenancy import scoped

if TYPE_CHECKING:  # the ingest side, loaded by the methods that ingest
    from scrm.core.pipeline import IngestReport, Pipeline, Record
    from scrm.core.playbooks import PlaybookSet
    from scrm.core.timeshift import Placement

__all__ = ["SchemaError", "Scrm", "UnknownChannel", "open_app"]


class SchemaError(ScrmError, RuntimeError):
    """The database is not at the schema this version of scrm needs."""

    code = "not_ready"
    exit_status = ExitCode.DATABASE
    http_status = 503
    public_message = "the database needs migrating: run scrm db upgrade"


class UnknownChannel(ScrmError, LookupError):
    """No installed plugin provides the channel; the message lists those that exist."""

    code = "invalid"
    http_status = 422


class Scrm:
    """An scrm application bound to one database and one set of plugins."""

    def __init__(
        self,
        config: Config,
        pm: PluginManager | None = None,
        *,
        context: PluginContext | None = None,
    ) -> None:
        """:param context: ``config`` with the plugins' settings validated already
        (:func:`~scrm.core.plugins.plugin_context`, as the command line does before it
        opens the application); by default they are validated here."""
        self.config = config
        set_log_content(config.log_content)
        self.pm = pm if pm is not None else get_plugin_manager()
        if context is not None and context.config is not config:
            raise ValueError("context was validated for another configuration")
        #: The configuration and every plugin's validated settings (validated once); a
        #: brand's view (:meth:`for_brand`) has the brand's.
        self.context = context if context is not None else plugin_context(config, self.pm)
        self.hooks = Hooks(self.pm, self.context)
        self.engine = db.make_engine(config.database_url)
        self.Session = db.make_sessionmaker(self.engine)
        self._read_session = db.make_sessionmaker(
            self.engine.execution_options(**{db.READ_ONLY: True})
        )
        self._channels: dict[str, Channel] = {}
        self._departments_synced = False
        self.brand_id: int | None = None
        """The brand this application is limited to (:meth:`for_brand`); None: across brands."""
        self._brand_views: dict[int, Scrm] = {}
        self.events = Dispatcher(self)
        self.pm.hook.app_started(app=self)

    # -- brands --------------------------------------------------------------------------

    @cached_property
    def brands(self) -> BrandDirectory:
        """The brands by key, and the accounts each owns (rows synced from the configuration)."""
        with self.Session() as s, s.begin():
            sync_brands(s, self.config)
            return BrandDirectory.load(s, self.config)

    def for_brand(self, brand: int | str | None) -> Scrm:
        """This application limited to one brand: every session it opens sees and writes
        only that brand's rows (:mod:`scrm.core.tenancy`), and what it ingests belongs to it.

        :param brand: a brand's id or key; None: this application, across brands.
        :raises NotFound: for an unknown brand key.
        """
        if brand is None:
            return self
        if self.brand_id is not None:  # a brand's view never widens to another brand
            if brand not in (self.brand_id, self.brands.key_of(self.brand_id)):
                raise NotFound(N_("no brand %(brand)r"), brand=brand)
            return self
        brand_id = self.brands.id_of(brand) if isinstance(brand, str) else brand
        if brand_id not in self._brand_views:
            view = copy.copy(self)
            view.brand_id = brand_id
            view.Session = db.make_sessionmaker(self.engine, info=scoped(brand_id))
            view._read_session = db.make_sessionmaker(
                self.engine.execution_options(**{db.READ_ONLY: True}), info=scoped(brand_id)
            )
            view._brand_views = {}
            view.hooks = self.hooks.for_brand(self.brands.key_of(brand_id))
            view.context = view.hooks.ctx
            self._brand_views[brand_id] = view
        return self._brand_views[brand_id]

    @property
    def timezone(self) -> str:
        """The time zone of reports and days: this brand's (``[brands.x] timezone``), else
        the deployment's."""
        key = self.brands.key_of(self.brand_id) if self.brand_id is not None else None
        brand = self.config.brands.get(key) if key is not None else None
        return (brand.timezone if brand is not None else None) or self.config.timezone

    @property
    def playbooks(self) -> PlaybookSet:
        """The playbooks of this brand (``[brands.<key>] playbooks``), else of ``cases.playbooks``
        (loaded on first use: reading needs none), knowing which playbook each category the
        plugins register follows.  A case's are :meth:`playbooks_of` its brand."""
        return self.hooks.playbooks

    def playbooks_of(self, brand: str) -> PlaybookSet:
        """The playbooks brand ``brand`` (a key: a case's ``brand``) answers with."""
        return self.hooks.for_brand(brand).playbooks

    @property
    def categories(self) -> list[str]:
        """The categories an agent may meet: this brand's; across brands, every brand's."""
        if self.brand_id is not None:
            return self.playbooks.categories
        keys = [None, *self.config.brands]
        return sorted({c for k in keys for c in self.hooks.for_brand(k).playbooks.categories})

    def plugin_config(self, name: str) -> Any:
        """The validated ``Settings`` of plugin ``name``, or ``None`` (see
        :class:`~scrm.core.context.PluginContext`)."""
        return self.context.plugin_config(name)

    # -- lifecycle -------------------------------------------------------------------------

    def migration_locations(self) -> list[str]:
        """The plugins' Alembic version locations (the department modules' among them)."""
        return migration_locations(self.pm)

    def schema_diff(self) -> list[Any]:
        """The differences between the models (core's and the plugins') and the database."""
        for _, models in migrations(self.pm):
            if models is not None:
                importlib.import_module(models)  # declares the plugin's tables on Base
        return db.schema_diff(self.engine)

    def upgrade(self, revision: str = "heads") -> None:
        """Bring the database schema to ``revision`` (default: the newest)."""
        locations = self.migration_locations()
        foreign = self._foreign_revisions(locations)
        if foreign:
            raise SchemaError(
                f"the database has revisions of plugins that are not loaded ({', '.join(sorted(foreign))}): "
                "load them to upgrade (SCRM_DISABLE_PLUGINS, SCRM_LOAD_PLUGINS), then disable them again"
            )
        db.upgrade(self.engine, revision, locations)
        self._sync_departments()

    def _foreign_revisions(self, locations: list[str]) -> set[str]:
        """The database's revisions that no loaded plugin's branch has: the branches of a
        plugin disabled (or uninstalled) after it made its tables."""
        known = db.known_revisions(locations)
        if known is None:  # a revision file Alembic must read: it knows them all
            return set()
        return db.current_revision(self.engine) - known

    def check_schema(self) -> None:
        """Raise :class:`SchemaError` unless the database is at the newest migration.

        A branch of a plugin that is not loaded (a department module switched off) is left
        alone: its tables stay, unused, until it is loaded again.
        """
        locations = self.migration_locations()
        current = db.current_revision(self.engine) - self._foreign_revisions(locations)
        heads = db.head_revision(locations)
        if current != heads:
            have = ", ".join(sorted(current)) or "an empty database"
            raise SchemaError(
                f"the database at {self.engine.url.render_as_string(hide_password=True)} is at "
                f"{have}, not at {', '.join(sorted(heads))}: run `scrm db upgrade`"
            )

    def _sync_departments(self) -> None:
        if self._departments_synced:
            return
        with self.session() as s:
            have = set(s.scalars(sa.select(Department.code)))
            missing = [(d.code, d.name) for d in self.config.departments if d.code not in have]
            ensure_departments(s, missing)
        self._departments_synced = True

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Scrm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def session(self, *, read_only: bool = False) -> Iterator[Session]:
        """A session in a transaction, committed on success and rolled back on error.

        :param read_only: the caller only reads.  On SQLite such a session does not wait
            for a writer (an ingest batch holds the write lock for its transaction); it
            sees the last committed state.  Writing in it may fail with "database is
            locked".  On PostgreSQL it makes no difference.
        """
        factory = self._read_session if read_only else self.Session
        with factory() as s, s.begin():
            yield s

    # -- channels --------------------------------------------------------------------------

    def channel(self, name: str) -> Channel:
        """Return the configured channel instance for ``name``."""
        if name not in self._channels:
            cls = self.hooks.channels.get(name)
            if cls is None:
                known = ", ".join(sorted(self.hooks.channels)) or "none"
                raise UnknownChannel(
                    N_("no plugin provides channel %(name)r; installed channels: %(known)s"),
                    name=name,
                    known=known,
                )
            try:
                self._channels[name] = cls(self.config.channel_settings(name))
            except ValidationError as exc:
                from scrm.core.sources import describe_validation_error

                reason, fld = describe_validation_error(exc)
                raise UnknownChannel(
                    N_("invalid settings for channel %(name)r: %(setting)s: %(reason)s"),
                    name=name,
                    setting=f"channels.{name}.{fld}",
                    reason=reason,
                ) from None
        return self._channels[name]

    # -- ingest ----------------------------------------------------------------------------

    def pipeline(self) -> Pipeline:
        from scrm.core.pipeline import Pipeline

        self._sync_departments()
        return Pipeline(
            self.hooks,
            self.Session,
            batch_size=self.config.batch_size,
            attach_window=self.config.attach_window,
            departments=[(d.code, d.name) for d in self.config.departments],
            assignment={d.code: d.assignment for d in self.config.departments},
            cases=self.config.cases,
            dispatcher=self.events,
            brands=self.brands,
            brand=self.brand_id,
        )

    def ingest_records(
        self, records: Iterable[Record], *, placement: Placement | None = None
    ) -> IngestReport:
        """Run parsed records through the pipeline; every ingest path ends here.

        :param placement: move the input in time first (``--as-of``, see
            :mod:`scrm.core.timeshift`); None keeps every instant as received.
        """
        from scrm.core.timeshift import place

        if placement is not None:
            records = place(records, placement)
        return self.pipeline().run(records)

    def ingest(
        self,
        interactions: Iterable[InboundInteraction | Mapping[str, Any]],
        *,
        source: str = "api",
        placement: Placement | None = None,
    ) -> IngestReport:
        """Ingest interactions in the interchange format (models or plain dicts)."""
        from scrm.core.pipeline import Origin
        from scrm.core.sources import dump, records_from_payload

        def records() -> Iterator[Record]:
            for n, item in enumerate(interactions, start=1):
                if isinstance(item, InboundInteraction):
                    yield (item, Origin(source, n))
                else:
                    yield from records_from_payload(
                        dict(item), Origin(source, n, dump(item)), "interactions", None
                    )

        return self.ingest_records(records(), placement=placement)

    def ingest_native(
        self,
        channel: str,
        payloads: Iterable[Any],
        *,
        source: str = "api",
        placement: Placement | None = None,
    ) -> IngestReport:
        """Ingest native payloads of ``channel`` (what the platform sent)."""
        from scrm.core.pipeline import Origin
        from scrm.core.sources import dump, records_from_payload

        ch = self.channel(channel)

        def records() -> Iterator[Record]:
            for n, payload in enumerate(payloads, start=1):
                yield from records_from_payload(
                    payload, Origin(source, n, dump(payload), "native", channel), "native", ch
                )

        return self.ingest_records(records(), placement=placement)

    def ingest_lines(
        self,
        lines: Iterable[str | bytes],
        *,
        source: str,
        fmt: str = "native",
        channel: str | None = None,
        placement: Placement | None = None,
    ) -> IngestReport:
        """Ingest JSON lines (a file or stream) of native payloads or interchange objects."""
        from scrm.core.sources import read_jsonl

        ch = self.channel(channel) if fmt == "native" and channel else None
        if fmt == "native" and ch is None:
            raise UnknownChannel(
                N_(
                    "native input needs --channel; use --format interactions for the interchange format"
                )
            )
        return self.ingest_records(
            read_jsonl(lines, source=source, fmt=fmt, channel=ch, channel_name=channel),
            placement=placement,
        )

    def replay_rejects(self, ids: Iterable[int] | None = None) -> IngestReport:
        """Run pending rejects (all, or those in ``ids``) through the pipeline again.

        A reject that now goes through is marked ``replayed``; one that fails again stays
        pending with its new reason and one more attempt counted.
        """
        from scrm.core.pipeline import Origin, Rejected, one_line
        from scrm.core.sources import records_from_payload

        with self.session() as s:
            q = sa.select(Reject.id).where(Reject.status == "pending").order_by(Reject.id)
            if ids is not None:
                q = q.where(Reject.id.in_(list(ids)))
            todo = list(s.scalars(q))

        def records() -> Iterator[Record]:
            for rid in todo:
                with self.Session() as s:
                    r = s.get(Reject, rid)
                    assert r is not None
                    origin = Origin(
                        r.source,
                        r.position,
                        r.payload,
                        r.format,
                        r.channel,
                        reject_id=r.id,
                        raw=r.payload_bytes,
                    )
                    fmt, channel_name = r.format, r.channel
                try:
                    # The exact bytes when the text form is only a readable copy.
                    text = (
                        origin.raw.decode("utf-8", "surrogatepass")
                        if origin.raw is not None
                        else origin.payload or ""
                    )
                    payload = json.loads(text)
                except UnicodeDecodeError as exc:
                    yield Rejected(origin, f"not UTF-8 (byte {exc.start + 1})")
                    continue
                except (ValueError, RecursionError) as exc:
                    yield Rejected(origin, f"not valid JSON: {one_line(exc)}")
                    continue
                if fmt == "native" and not channel_name:
                    yield Rejected(origin, "a native record without a channel cannot be replayed")
                    continue
                try:
                    ch = self.channel(channel_name) if fmt == "native" and channel_name else None
                except UnknownChannel as exc:
                    yield Rejected(origin, str(exc))
                    continue
                yield from records_from_payload(payload, origin, fmt, ch)

        return self.ingest_records(records())

    # -- plugin state ----------------------------------------------------------------------

    def load_state(self, plugin: str, key: str) -> dict[str, Any] | None:
        """Return a plugin's persisted state (a poll cursor, say), or None."""
        with self.session(read_only=True) as s:
            return get_state(s, plugin, key)

    def save_state(self, plugin: str, key: str, value: dict[str, Any]) -> None:
        """Persist a plugin's state; see :mod:`scrm.core.state` for doing it in a larger transaction."""
        with self.session() as s:
            set_state(s, plugin, key, value)

    # -- queries ---------------------------------------------------------------------------

    def customer(self, customer_id: int) -> queries.CustomerOut:
        with self.session(read_only=True) as s:
            return queries.get_customer(s, customer_id)

    def customers(self, **filters: Any) -> list[queries.CustomerOut]:
        with self.session(read_only=True) as s:
            return queries.list_customers(s, **filters)

    def relabel(self, interaction_id: int, actor: str, **fields: Any) -> LabelCorrection:
        """Correct a message's classification; its case follows (see Pipeline.relabel)."""
        return self.pipeline().relabel(interaction_id, actor, **fields)

    def interaction(self, interaction_id: int) -> queries.InteractionOut:
        with self.session(read_only=True) as s:
            return queries.get_interaction(s, interaction_id)

    def interactions(self, **filters: Any) -> list[queries.InteractionOut]:
        with self.session(read_only=True) as s:
            return queries.list_interactions(s, **filters)

    def case(self, case_id: int) -> queries.CaseDetail:
        with self.session(read_only=True) as s:
            return queries.get_case(s, case_id)

    def cases(self, **filters: Any) -> list[queries.CaseOut]:
        with self.session(read_only=True) as s:
            return queries.list_cases(s, **filters)

    def count_cases(self, *, now: datetime, soon: timedelta, **filters: Any) -> queries.CaseCounts:
        """Count the cases :meth:`cases` lists with ``filters``: all, past a deadline, due
        within ``soon``."""
        with self.session(read_only=True) as s:
            return queries.count_cases(s, now=now, soon=soon, **filters)

    def rejects(self, **filters: Any) -> list[queries.RejectOut]:
        with self.session(read_only=True) as s:
            return queries.list_rejects(s, **filters)

    def replies(self, **filters: Any) -> list[queries.ReplyOut]:
        """Replies in the outbox, newest first: ``status``, ``limit=50``, ``before`` (an id)."""
        with self.session(read_only=True) as s:
            return queries.list_replies(s, **filters)


def open_app(
    url: str | None = None,
    *,
    config: Config | None = None,
    config_file: str | None = None,
    pm: PluginManager | None = None,
    plugins: Iterable[object] = (),
    migrate: bool = False,
) -> Scrm:
    """Open an application.

    :param url: database URL; overrides the configuration's ``database_url``.
    :param config: a ready configuration (otherwise loaded from ``scrm.toml``/environment).
    :param config_file: path of a TOML configuration file.
    :param pm: a ready plugin manager (otherwise built from the configuration).
    :param plugins: extra plugin objects to register (ignored when ``pm`` is given).
    :param migrate: bring the database to the newest schema first.
    :raises ConfigError: a setting is invalid or a ``[channels.*]``/``[plugins.*]`` section
        belongs to no installed plugin.
    """
    if config is None:
        config = load_config(config_file, **({"database_url": url} if url else {}))
    elif url:
        config = config.model_copy(update={"database_url": url})
    if pm is None:
        pm = get_plugin_manager(extra=plugins)
    app = Scrm(config, pm)
    if migrate:
        app.upgrade()
    return app
