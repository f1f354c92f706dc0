"""What every command shares: the lazily opened application and error rendering."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, datetime, tzinfo
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from pydantic import BaseModel

from scrm.cli.errors import CliError, ExitCode, translate
from scrm.core.config import DEFAULT_CONFIG_FILE, Config, ConfigError, load_config
from scrm.core.timefmt import format_time, get_zone, localize_text, zone_label

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from scrm.core.app import Scrm
    from scrm.core.context import PluginContext
    from scrm.core.plugins import Hooks, PluginManager
    from scrm.core.timeshift import Placement

# The application (and with it SQLAlchemy) and rich are imported when a command uses them,
# so that `scrm --help` stays fast.

__all__ = [
    "GAP",
    "CliContext",
    "ScrmGroup",
    "clip",
    "department_codes",
    "emit",
    "fit_widths",
    "line_table",
    "natural_widths",
    "placement_options",
    "require_known",
    "table",
]

GAP = 2
"""Spaces between two columns of a :func:`line_table`."""
ELLIPSIS = "…"

#: Commands that run without a valid configuration: ``init`` writes one.
NO_CONFIG_COMMANDS = frozenset({"init"})


class ScrmGroup(click.Group):
    """The root group: checks the configuration first, and turns every error into one line.

    With ``--debug`` an error is raised as it is, with its traceback.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # `scrm cases list --help` works with a broken configuration.
        ctx.meta["scrm.help"] = any(a in ("-h", "--help") for a in args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort, click.ClickException):
            raise
        except Exception as exc:
            obj = ctx.obj if isinstance(ctx.obj, CliContext) else None
            if obj is None or obj.debug:
                raise
            url, where = obj.database_url_and_source()
            raise translate(exc, url, where) from None


class CliContext:
    def __init__(
        self,
        *,
        config_file: str | None,
        database_url: str | None,
        pm: PluginManager | None,
        config: Config | None,
        debug: bool = False,
        config_error: ConfigError | None = None,
        brand: str | None = None,
    ) -> None:
        self.config_file = config_file
        self.brand = brand
        self.database_url = database_url
        self.pm = pm
        self.debug = debug
        self._config = config
        self._config_error = config_error
        self._app: Scrm | None = None

    @cached_property
    def console(self) -> Console:
        """Where a command prints (rich, imported on first use)."""
        from rich.console import Console

        return Console()

    @cached_property
    def err(self) -> Console:
        """Where a command prints warnings and rejects (standard error)."""
        from rich.console import Console

        return Console(stderr=True)

    @property
    def config(self) -> Config:
        """The configuration (``main`` has already applied ``--config`` and ``--database-url``)."""
        if self._config_error is not None:
            raise self._config_error
        if self._config is None:
            overrides = {"database_url": self.database_url} if self.database_url else {}
            self._config = load_config(self.config_file, **overrides)
        elif self.database_url and self._config.database_url != self.database_url:
            self._config = self._config.model_copy(update={"database_url": self.database_url})
        return self._config

    @property
    def zone(self) -> tzinfo:
        """The zone times are shown in: the ``timezone`` setting."""
        return get_zone(self.config.timezone)

    def time(self, value: Any, *, offset: bool = False) -> str:
        """``value`` for a person: ``YYYY-MM-DD HH:MM`` in :attr:`zone` ("" for None).

        :param value: a datetime or None (values of plain dicts are typed ``Any``).
        :param offset: append the offset (``+03:00``), for a time not in a labelled table.
        """
        if value is not None and not isinstance(value, datetime):
            raise TypeError(f"not a datetime: {value!r}")
        return format_time(value, self.zone, offset=offset)

    def local_text(self, text: str) -> str:
        """``text`` with the ISO 8601 instants in it shown as :meth:`time` shows them."""
        return localize_text(text, self.zone)

    def placement(self, as_of: str | None, newest: str | None) -> Placement | None:
        """The ``--as-of``/``--newest`` options of an ingest command (None without --as-of)."""
        if as_of is None:
            if newest is not None:
                raise click.UsageError("--newest needs --as-of")
            return None
        from scrm.core.timeshift import Placement

        return Placement(
            as_of=self._instant(as_of, "--as-of"),
            newest=self._instant(newest, "--newest") if newest is not None else None,
        )

    def _instant(self, text: str, option: str) -> datetime:
        """``now``, or an ISO 8601 date or time; without an offset, in :attr:`zone`."""
        if text.strip().lower() == "now":
            return datetime.now(UTC)
        try:
            when = datetime.fromisoformat(text.strip())
        except ValueError:
            raise click.BadParameter(
                f"{text!r} is not 'now' or an ISO 8601 date or time (2024-10-27T18:00:00+03:00)",
                param_hint=f"'{option}'",
            ) from None
        return when if when.tzinfo else when.replace(tzinfo=self.zone)

    @property
    def times_caption(self) -> str:
        """The label of a table's times: ``times in Europe/Istanbul (UTC+03:00)``."""
        return f"times in {zone_label(self.zone)}"

    def check_config(self) -> None:
        """Raise :class:`ConfigError` unless the configuration and every plugin section are valid."""
        if self.pm is not None:
            self.plugin_context  # noqa: B018 - validates, once; the application reuses it

    @cached_property
    def plugin_context(self) -> PluginContext:
        """The configuration with every plugin's settings validated, once per command."""
        from scrm.core.plugins import plugin_context

        return plugin_context(self.config, self.plugins)

    @cached_property
    def plugins(self) -> PluginManager:
        """The plugin manager the command line was built with (else the installed plugins)."""
        from scrm.core.plugins import get_plugin_manager

        return self.pm if self.pm is not None else get_plugin_manager()

    @cached_property
    def hooks(self) -> Hooks:
        """The plugins' typed hooks with their settings, those of ``--brand`` when given
        (``[brands.<key>]``, read from the configuration alone), for commands that need no
        database (``scrm classify``, ``scrm eval``).

        :raises click.UsageError: for a brand the configuration does not name.
        """
        from scrm.core.plugins import Hooks

        hooks = Hooks(self.plugins, self.plugin_context)
        if self.brand is None:
            return hooks
        known = {"default", *self.config.brands}
        if self.brand not in known:
            raise click.UsageError(f"no brand {self.brand!r}; brands: {', '.join(sorted(known))}")
        return hooks.for_brand(self.brand)

    def database_url_and_source(self) -> tuple[str | None, str]:
        """The database URL in use (None before the configuration loaded) and where it was set."""
        config = self._config
        if self.database_url:
            return self.database_url, "the --database-url option or SCRM_DATABASE_URL"
        if config is None:
            return None, "the configuration"
        if "SCRM_DATABASE_URL" in os.environ:
            return config.database_url, "the environment (SCRM_DATABASE_URL)"
        return config.database_url, str(config.config_file or "the settings given in code")

    def app(self, *, check_schema: bool = True) -> Scrm:
        """Open the application; refuse to run on a database that needs migrating.

        :param check_schema: also refuse a database file that does not exist yet (only
            ``scrm db upgrade`` and the like create one).
        """
        if self._app is None:
            config = self.config
            if not config.found:
                raise CliError(
                    f"no configuration: there is no {DEFAULT_CONFIG_FILE} in {Path.cwd()} and "
                    "neither --config, SCRM_CONFIG nor SCRM_DATABASE_URL is set; run "
                    "`scrm init` to create one here, or run scrm where your scrm.toml is",
                    ExitCode.CONFIG,
                )
            if check_schema:
                _refuse_missing_sqlite(config.database_url, self.database_url_and_source()[1])
            from scrm.core.app import Scrm

            self._app = Scrm(config, self.plugins, context=self.plugin_context)
            click.get_current_context().call_on_close(self._app.close)
        if check_schema:
            self._app.check_schema()
        # --brand: every command sees and changes only that brand's data (scrm.core.tenancy).
        return self._app.for_brand(self.brand) if check_schema and self.brand else self._app


def _refuse_missing_sqlite(url: str, where: str) -> None:
    """A command that reads data must not create an empty SQLite file as a side effect."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or name in (None, "", ":memory:"):
        return
    if "mode=memory" in url or name.startswith("file:"):
        return
    path = Path(name)
    if not path.parent.is_dir():
        raise CliError(
            f"cannot open the SQLite database {path}: the folder {path.parent} does not exist; "
            f"create it, or fix database_url in {where}",
            ExitCode.DATABASE,
        )
    if not path.exists():
        raise CliError(
            f"there is no database at {path}: run `scrm db upgrade` to create it, or fix "
            f"database_url in {where}",
            ExitCode.DATABASE,
        )


def placement_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--as-of`` and ``--newest`` (read them with :meth:`CliContext.placement`)."""
    command = click.option(
        "--newest",
        metavar="WHEN",
        help="With --as-of: the instant of the input that moves to --as-of instead of its "
        "newest message; give several inputs of one data set the same, to move them together.",
    )(command)
    return click.option(
        "--as-of",
        metavar="WHEN",
        help="Move every time of the input by one amount so that its newest message is at WHEN "
        "('now', or an ISO 8601 date or time; without an offset, in the configured time zone). "
        "For sample and recorded data.",
    )(command)


def require_known(value: str | None, option: str, what: str, known: Iterable[str]) -> None:
    """Refuse a filter value that can match nothing, listing the values that exist."""
    names = sorted(known)
    if value is not None and value not in names:
        raise click.BadParameter(
            f"{value!r} is not a known {what}; {what}s: {', '.join(names) or 'none'}",
            param_hint=f"'{option}'",
        )


def department_codes(app: Scrm) -> set[str]:
    """The departments cases can be in: those configured and those in the database."""
    import sqlalchemy as sa

    from scrm.core.models import Department

    with app.session(read_only=True) as s:
        stored = set(s.scalars(sa.select(Department.code)))
    return stored | {d.code for d in app.config.departments}


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


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    caption: str | None = None,
) -> Table:
    """A rich table of ``rows`` under ``columns`` (cells folded, ``None`` shown empty);
    ``caption`` (below it) says what its times are in, when it has any."""
    from rich.table import Table

    t = Table(title=title, caption=caption, show_lines=False, header_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    return t


def clip(text: str, width: int) -> str:
    """``text`` on one line in at most ``width`` cells; cut at a word, with an ellipsis."""
    from rich.cells import cell_len

    text = " ".join(text.split())
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    cut = ""
    for ch in text:
        if cell_len(cut + ch) > width - 1:
            break
        cut += ch
    # Cut at the last space when one is near the end, so that no word is split.
    space = cut.rfind(" ")
    if space >= len(cut) * 2 // 3:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + ELLIPSIS


def natural_widths(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    """Each column's width uncut: its widest cell or header, in terminal cells."""
    from rich.cells import cell_len

    return [max([cell_len(h), *(cell_len(r[i]) for r in rows)]) for i, h in enumerate(headers)]


def fit_widths(
    natural: Sequence[int], flexible: Sequence[bool], width: int, *, least: int = 4
) -> list[int]:
    """Column widths that fit in ``width`` cells (with :data:`GAP` between columns).

    The widest flexible column gives up a cell first, down to ``least``; the other columns
    keep their ``natural`` width, so the result can still be too wide when they alone are.
    """
    widths = list(natural)
    while sum(widths) + GAP * (len(widths) - 1) > width:
        shrinkable = [i for i, f in enumerate(flexible) if f and widths[i] > least]
        if not shrinkable:
            break
        widths[max(shrinkable, key=lambda i: widths[i])] -= 1
    return widths


def line_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths: Sequence[int],
    *,
    right: Collection[int] = (),
    title: str | None = None,
    caption: str | None = None,
    styles: Sequence[str | None] | None = None,
) -> Table:
    """A table without rules, one line per row: headers and cells are cut to ``widths``
    with :func:`clip`; the columns whose index is in ``right`` are right-justified."""
    from rich.table import Table

    t = Table(
        title=title,
        caption=caption,
        box=None,
        padding=(0, 1),
        pad_edge=False,
        show_edge=False,
        header_style="bold",
    )
    for i, (h, w) in enumerate(zip(headers, widths, strict=True)):
        t.add_column(
            clip(h, w), width=w, no_wrap=True, justify="right" if i in right else "left"
        )
    for n, row in enumerate(rows):
        t.add_row(
            *(clip(v, w) for v, w in zip(row, widths, strict=True)),
            style=styles[n] if styles else None,
        )
    return t
