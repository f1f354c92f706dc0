"""What the built-in department modules share: the application, settings, time windows.

A department plugin is built from the configuration (``module:plugin(config)`` in
``DEFAULT_PLUGINS``), learns the application through the ``app_started`` hook, and does its
work in after-commit hooks, each in a transaction of its own.  Everything it records is
idempotent (unique keys), so an alert or an escalation happens once however often a message
is seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from scrm.plugin import Config, ConfigError, hookimpl
from scrm.plugin.db import Interaction, utcnow

if TYPE_CHECKING:
    from scrm.plugin import Scrm

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
    if until is not None:
        return until
    newest: datetime | None = session.scalar(sa.select(sa.func.max(Interaction.created_at)))
    if newest is not None and newest.tzinfo is None:  # SQLite aggregate bypasses the type
        from datetime import UTC

        newest = newest.replace(tzinfo=UTC)
    return newest or utcnow()


class DepartmentPlugin:
    """Base of the department plugins: holds the application once it has started."""

    name = "department"

    def __init__(self) -> None:
        self.app: Scrm | None = None
        self.clock: Callable[[], datetime] = utcnow

    @hookimpl
    def app_started(self, app: Scrm) -> None:
        self.app = app

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction on the application's database (after commit of the ingest batch)."""
        if self.app is None:
            raise RuntimeError(f"the {self.name} plugin is used before the application started")
        with self.app.session() as s:
            yield s

    def notify(self, hook: str, **kwargs: Any) -> None:
        """Fire an after-commit hook through the application (one failing plugin is logged)."""
        if self.app is not None:
            self.app.hooks.notify(hook, **kwargs)


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
