"""What the built-in department modules share: the application, settings, time windows.

A department plugin is one object (``module:plugin`` in ``DEFAULT_PLUGINS``) that keeps no
application and no settings: it declares them as a pydantic ``Settings`` model, the
application validates them at start-up, and each hook works with the copy
:meth:`DepartmentPlugin.configured` makes for the application at hand (``ctx``).  It does
its work in after-commit hooks, as a
consumer of the domain events, in the transaction the dispatcher hands it (``ctx.session``),
which commits with the record that it handled them; what it detects it raises as events of
its own (``ctx.emit``).  Everything it records is idempotent (unique keys) as well, so an
alert or an escalation happens once however often a message is seen.

A brand's ``[brands.<key>.plugins.<name>]`` settings hold for that brand's messages: an
after-commit hook handles a batch's messages per brand (:meth:`DepartmentPlugin.by_brand`),
each group with the plugin configured for its brand, as the decision hooks are.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from scrm.plugin import EventContext, PluginContext, StoredInteraction

__all__ = ["DepartmentPlugin", "reference_time"]

P = TypeVar("P", bound="DepartmentPlugin")


def reference_time(session: Session, until: datetime | None) -> datetime:
    """The end of a reporting window: ``until``, else the newest stored message, else now.

    Using the newest message rather than the clock lets an archive or the sample data be
    reported over its own period; on a live system the two are the same.
    """
    import sqlalchemy as sa

    from scrm.plugin.db import Interaction, utcnow

    if until is not None:
        return until
    newest: datetime | None = session.scalar(sa.select(sa.func.max(Interaction.created_at)))
    if newest is not None and newest.tzinfo is None:  # SQLite aggregate bypasses the type
        newest = newest.replace(tzinfo=UTC)
    return newest or utcnow()


class DepartmentPlugin:
    """Base of the department plugins: settings per application, the clock, the dispatch's
    transaction.

    :param settings: the settings to work with; the registered plugin has the defaults and
        takes each application's from ``ctx`` (:meth:`configured`).
    """

    name = "department"
    #: The module's settings model (``[plugins.<name>]``); subclasses set their own.
    Settings: type[BaseModel] = BaseModel

    def __init__(self, settings: Any = None) -> None:
        self.settings: Any = settings if settings is not None else self.Settings()
        self.clock: Callable[[], datetime] = partial(datetime.now, UTC)
        self._bound: dict[int, Any] = {}
        self.prepare()

    def prepare(self) -> None:
        """Derive what the hooks need from ``self.settings`` (compiled patterns, say)."""

    def configured(self: P, ctx: PluginContext) -> P:
        """This plugin with the settings of ``ctx``'s application (validated at start-up).

        The copies of the last few applications' settings are kept, so that a hook called
        per case (``choose_sla``) does not derive them again each time.
        """
        settings = ctx.plugin_config(self.name)
        bound = self._bound.get(id(settings))
        if bound is not None and bound.settings is settings:
            return bound
        bound = copy.copy(self)
        bound.settings, bound._bound = settings, {}
        bound.prepare()
        if len(self._bound) >= 8:
            self._bound.pop(next(iter(self._bound)))
        self._bound[id(settings)] = bound
        return bound

    def by_brand(
        self: P, ctx: EventContext, interactions: Iterable[StoredInteraction]
    ) -> Iterator[tuple[P, list[StoredInteraction]]]:
        """Yield each brand's messages of ``interactions`` (in their order) with this plugin
        configured for that brand (``[brands.<key>.plugins.<name>]`` over ``[plugins.<name>]``).

        A message stored before messages named their brand counts as the deployment's.
        """
        groups: dict[str | None, list[StoredInteraction]] = {}
        for i in interactions:
            groups.setdefault(i.brand, []).append(i)
        for brand, group in groups.items():
            yield self.configured(ctx.for_brand(brand)), group

    @contextmanager
    def session(self, ctx: EventContext) -> Iterator[Session]:
        """The dispatch's transaction (it commits once every event of the batch is handled)."""
        yield ctx.session


def merge_spans(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Merge overlapping or touching time intervals, in order: the few ranges a batch's
    queries must cover (``created_at BETWEEN ...`` per range)."""
    out: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out
