"""Exit codes, and every error turned into one line that says what to do (``--debug``: traceback)."""

from __future__ import annotations

from pathlib import Path

import click

from scrm.core.errors import ExitCode, ScrmError

# SQLAlchemy and pydantic are imported when an error is translated: every command imports
# this module, and `scrm --help` should not load the database layer.  scrm.core.errors is
# cheap and imports nothing.

__all__ = ["CliError", "ExitCode", "database_message", "translate"]


class CliError(click.ClickException):
    """A one-line error with its exit status."""

    def __init__(self, message: str, exit_code: int = ExitCode.ERROR) -> None:
        super().__init__(message)
        self.exit_code = int(exit_code)  # type: ignore[misc]  # a class variable in click


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def database_message(exc: Exception, url: str, where: str) -> str:
    """Say why the database at ``url`` (set in ``where``) cannot be used, and what to do."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        return f"database_url in {where} is not a database URL; write e.g. sqlite:///scrm.db"
    shown = parsed.render_as_string(hide_password=True)
    reason = _first_line(exc)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database or "")
        if "unable to open database file" in reason:
            if not path.parent.is_dir():
                return (
                    f"cannot open the SQLite database {path}: the folder {path.parent} does "
                    f"not exist; create it, or fix database_url in {where}"
                )
            return (
                f"cannot open the SQLite database {path}: {reason}; check the file's "
                f"permissions, or fix database_url in {where}"
            )
        if "not a database" in reason:
            return (
                f"{path} is not an SQLite database: fix database_url in {where}, or move that "
                "file away and run `scrm db upgrade` to create a new database"
            )
        return f"cannot use the SQLite database {path}: {reason}"
    if isinstance(exc, ModuleNotFoundError):
        return (
            f"the driver for {parsed.get_backend_name()} is not installed ({reason}); "
            "install scrm's postgres extra (from a clone: pip install -e '.[postgres]')"
        )
    return (
        f"cannot connect to the database at {shown}: {reason}; check that the server runs and "
        f"accepts connections, and database_url in {where}"
    )


def _is_database_error(exc: Exception) -> bool:
    import sqlalchemy as sa

    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        return True
    # DatabaseError itself (not IntegrityError & co): "file is not a database".
    return type(exc) is sa.exc.DatabaseError


def translate(exc: Exception, url: str | None, where: str) -> click.ClickException:
    """Turn any exception a command raised into a one-line :class:`click.ClickException`.

    :param url: the database URL in use (for database errors), if known.
    :param where: where that URL was set (a file, an option, the environment).
    """
    from pydantic import ValidationError

    from scrm.core.config import describe_errors

    if isinstance(exc, click.ClickException):
        return exc
    if isinstance(exc, ScrmError):
        return CliError(str(exc), exc.exit_status)
    if url is not None and isinstance(exc, ModuleNotFoundError) and "psycopg" in str(exc):
        return CliError(database_message(exc, url, where), ExitCode.CONFIG)
    if url is not None and _is_database_error(exc):
        return CliError(database_message(exc, url, where), ExitCode.DATABASE)
    if isinstance(exc, ValidationError):
        return CliError(f"invalid input: {describe_errors(exc, '')}", ExitCode.USAGE)
    if isinstance(exc, OSError) and exc.filename is not None:
        return CliError(f"{exc.filename}: {exc.strerror or exc}")
    return CliError(
        f"unexpected {type(exc).__name__}: {exc}; rerun with --debug for the traceback "
        "and report it"
    )
