"""scrm's errors: one hierarchy, each class with its code, exit status and HTTP status.

A domain error says what went wrong in one sentence; the class says what kind of failure it
is.  The command line (:mod:`scrm.cli.errors`) and the REST API (:mod:`scrm.server.errors`)
each map :class:`ScrmError` once, from these class attributes, so that a new error needs no
new handler.  Anything that is not an :class:`ScrmError` is a bug: the CLI says "unexpected",
the API answers 500 and logs the traceback.

An error's message is a template with named parameters, marked for translation with
:func:`N_` (as Django's ``ValidationError(message, code, params)``)::

    raise Refused(N_("case %(case)s is already merged into case %(into)s"), case=4, into=2)

``str(err)`` is the English sentence (``message % params``), what the CLI and the REST API
show; an interface in another language translates :attr:`ScrmError.message` through its
catalogue and then puts in :attr:`ScrmError.params`.  The values are data (ids, statuses,
names), never translated.

This module imports nothing heavy: ``scrm --help`` and ``import scrm.plugin`` load it.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar

__all__ = ["N_", "ExitCode", "Forbidden", "InvalidInput", "NotFound", "Refused", "ScrmError"]


def N_(message: str) -> str:
    """Mark ``message`` for the translation catalogue where it is written; it is translated
    where it is shown (``make console-messages`` extracts the marked messages)."""
    return message


class ExitCode(IntEnum):
    """The exit statuses of every ``scrm`` command (documented in docs/operators.md)."""

    OK = 0
    ERROR = 1
    """The command could not do what was asked: a missing record, a refused transition, a
    file that cannot be read or written."""
    USAGE = 2
    """The command line is wrong: an unknown option or value, a missing argument."""
    REJECTED = 3
    """An ingest or replay finished but rejected at least one record."""
    CONFIG = 4
    """The configuration is invalid or missing, or needs a package that is not installed."""
    DATABASE = 5
    """The database cannot be reached or opened, or is not at the newest schema."""
    UNDELIVERED = 6
    """``scrm outbox deliver``: a reply failed in the round (for good, or to be retried)."""


class ScrmError(Exception):
    """The base of every error scrm raises on purpose; the message is the whole story.

    Subclasses set the class attributes; an instance may name the input at fault in
    ``field`` (a dotted path, shown in the REST error body).

    :param message: the English sentence, or with ``params`` its template, whose
        ``%(name)s`` (or ``%(name)r``) parts stand for the values.  Without ``params`` it is
        not formatted: a ``%`` in it is a ``%``.
    :param params: the values of the template's parts.
    """

    #: Stable machine-readable code, the ``error.code`` of a REST error body.
    code: ClassVar[str] = "error"
    #: The status a ``scrm`` command exits with.
    exit_status: ClassVar[int] = ExitCode.ERROR
    #: The HTTP status of the REST answer.  From 500 on, the message stays in the log and
    #: the client gets :attr:`public_message`.
    http_status: ClassVar[int] = 500
    #: What a client is told instead of the message for a 5xx status.
    public_message: ClassVar[str] = "an internal error occurred; it has been logged"

    field: str | None = None

    def __init__(self, message: str, field: str | None = None, **params: object) -> None:
        super().__init__(message % params if params else message)
        #: The template (the English sentence when there are no ``params``).
        self.message = message
        self.params = params
        if field is not None:
            self.field = field


class InvalidInput(ScrmError, ValueError):
    """A value the caller gave cannot be used (a ``ValueError`` too, for older callers)."""

    code = "invalid"
    http_status = 422


class Refused(ScrmError, ValueError):
    """A well-formed request that the record's current state does not allow."""

    code = "refused"
    http_status = 409


class NotFound(ScrmError, LookupError):
    """The asked-for record does not exist; the message names it."""

    code = "not_found"
    http_status = 404


class Forbidden(ScrmError):
    """The caller's role or brand does not allow this; the message says which."""

    code = "forbidden"
    http_status = 403
