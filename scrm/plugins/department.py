"""What the built-in department modules share: the application, settings, time windows.

A department plugin is built from the configuration (``module:plugin(config)`` in
``DEFAULT_PLUGINS``) and keeps no application: it does its work in after-commit hooks, as a
consumer of the domain events, in the transaction the dispatcher hands it (``ctx.session``),
which commits with the record that it handled them; what it detects it raises as events of
its own (``ctx.emit``).  Everything it records is idempotent (unique keys) as well, so an
alert or an escalation happens once however often a message is seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ValidationError

from scrm.plugin import Config, ConfigError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from scrm.plugin import EventContext

__all__ = ["DepartmentPlugin", "load_settings", "reference_time"]

S = TypeVar("S", bound=BaseModel)


def load_settings(model: type[S], config: Config, name: str) -> S:
    """Validate ``[plugins.<name>]``; raise :class:`ConfigError` naming the key at fault."""
    try:
        return model.model_validate(config.plugin_settings(name))
    except ValidationError as exc:
        problems = "; ".join(
            f"plugins.{name}.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None


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
    """Base of the department plugins: the clock, and the dispatch's transaction."""

    name = "department"

    def __init__(self) -> None:
        self.clock: Callable[[], datetime] = partial(datetime.now, UTC)

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
