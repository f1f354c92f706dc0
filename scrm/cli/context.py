"""What every command shares: the lazily opened application and error rendering."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from scrm.core.app import SchemaError, Scrm, UnknownChannel, open_app
from scrm.core.cases import TransitionError
from scrm.core.config import Config, ConfigError, load_config
from scrm.core.customers import MergeError
from scrm.core.playbooks import PlaybookError
from scrm.core.plugins import PluginError, PluginManager
from scrm.core.queries import NotFound
from scrm.core.workflow import Conflict

__all__ = ["CliContext", "ScrmGroup", "emit", "handle_errors", "table"]

#: Exceptions whose message is the whole story: shown as one line, no traceback.
USER_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    SchemaError,
    UnknownChannel,
    TransitionError,
    MergeError,
    NotFound,
    PluginError,
    PlaybookError,
    Conflict,
)


@contextmanager
def handle_errors() -> Iterator[None]:
    try:
        yield
    except USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None


class ScrmGroup(click.Group):
    """A click group that turns scrm's own errors into one clear line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        with handle_errors():
            return super().invoke(ctx)


class CliContext:
    def __init__(
        self,
        *,
        config_file: str | None,
        database_url: str | None,
        pm: PluginManager | None,
        config: Config | None,
    ) -> None:
        self.config_file = config_file
        self.database_url = database_url
        self.pm = pm
        self._config = config
        self._app: Scrm | None = None
        self.console = Console()
        self.err = Console(stderr=True)

    @property
    def config(self) -> Config:
        """The configuration (``main`` has already applied ``--config`` and ``--database-url``)."""
        if self._config is None:
            overrides = {"database_url": self.database_url} if self.database_url else {}
            self._config = load_config(self.config_file, **overrides)
        elif self.database_url and self._config.database_url != self.database_url:
            self._config = self._config.model_copy(update={"database_url": self.database_url})
        return self._config

    def app(self, *, check_schema: bool = True) -> Scrm:
        """Open the application; refuse to run on a database that needs migrating."""
        if self._app is None:
            self._app = open_app(config=self.config, pm=self.pm)
            click.get_current_context().call_on_close(self._app.close)
        if check_schema:
            self._app.check_schema()
        return self._app


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, list | tuple):
        return [_jsonable(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    return obj


def emit(obj: Any) -> None:
    """Write ``obj`` (models, lists of models, dicts) as JSON to stdout."""
    click.echo(json.dumps(_jsonable(obj), ensure_ascii=False, indent=None, default=str))


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    t = Table(title=title, show_lines=False, header_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    return t


def short_time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""
