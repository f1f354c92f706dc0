"""One error hierarchy: every error scrm raises on purpose is a ``ScrmError`` whose class says
its code, exit status and HTTP status; the command line and the REST API map it from there,
and anything else is a bug (exit 1 with "unexpected", HTTP 500 logged, nothing leaked)."""

from __future__ import annotations

import asyncio
import importlib
import logging
import pkgutil

import click
import httpx
from fastapi import APIRouter
from serverkit import scrm_config  # noqa: F401

import scrm
from scrm.core.cases import Conflict
from scrm.core.errors import ExitCode, ScrmError
from scrm.core.replies import AnswerElsewhere
from scrm.plugin import hookimpl
from scrm.server import create_app

#: Every error class with its (code, exit status, HTTP status); docs/operators.md lists the
#: exit statuses, and the REST API's error bodies carry the codes.
TRIPLES = {
    "scrm.core.errors.ScrmError": ("error", 1, 500),
    "scrm.core.errors.InvalidInput": ("invalid", 1, 422),
    "scrm.core.errors.Refused": ("refused", 1, 409),
    "scrm.core.errors.NotFound": ("not_found", 1, 404),
    "scrm.core.errors.Forbidden": ("forbidden", 1, 403),
    "scrm.core.cases.Conflict": ("version_conflict", 1, 409),
    "scrm.core.cases.TransitionError": ("invalid_transition", 1, 409),
    "scrm.core.customers.MergeError": ("refused", 1, 409),
    "scrm.core.replies.AnswerElsewhere": ("refused", 1, 409),
    "scrm.core.services.outbox.AnswerNotRecorded": ("rejected", 1, 409),
    "scrm.core.playbooks.PlaybookError": ("invalid", 1, 422),
    "scrm.core.webhooks.WebhookError": ("invalid", 1, 422),
    "scrm.core.metrics.PeriodError": ("invalid", 1, 422),
    "scrm.core.app.UnknownChannel": ("invalid", 1, 422),
    "scrm.core.plugins.PluginError": ("plugin", 1, 500),
    "scrm.core.config.ConfigError": ("config", ExitCode.CONFIG, 500),
    "scrm.core.app.SchemaError": ("not_ready", ExitCode.DATABASE, 503),
    "scrm.core.alerts.AlreadyAcknowledged": ("refused", 1, 409),
    "scrm.core.passwords.PasswordError": ("invalid", 1, 422),
    "scrm.core.tenancy.BrandScopeError": ("forbidden", 1, 403),
}


def _all_subclasses(cls: type) -> list[type]:
    found = [cls]
    for sub in cls.__subclasses__():
        found += _all_subclasses(sub)
    return found


def _error_classes() -> dict[str, type[ScrmError]]:
    for mod in pkgutil.walk_packages(scrm.__path__, "scrm."):
        if ".migrations" not in mod.name and not mod.name.startswith("scrm.testing"):
            importlib.import_module(mod.name)
    return {f"{c.__module__}.{c.__qualname__}": c for c in _all_subclasses(ScrmError)}


def test_every_error_class_declares_its_code_exit_and_http_status() -> None:
    classes = _error_classes()
    assert set(classes) == set(TRIPLES), "a new ScrmError needs a line in TRIPLES (and docs)"
    for name, cls in classes.items():
        assert (cls.code, cls.exit_status, cls.http_status) == TRIPLES[name], name
    # Callers that caught the built-in types before the hierarchy still catch them.
    assert issubclass(classes["scrm.core.errors.NotFound"], LookupError)
    assert issubclass(classes["scrm.core.cases.TransitionError"], ValueError)


class Raising:
    """A plugin whose command and webhook route raise the error they are told to."""

    def __init__(self) -> None:
        self.exc: BaseException = ValueError("a bug")

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @cli.command("fail")
        def fail() -> None:
            """Fail."""
            raise self.exc

    @hookimpl
    def register_routes(self, router: APIRouter) -> None:
        @router.post("/webhooks/fail")
        def fail() -> dict[str, str]:
            raise self.exc


def _post(app, path: str) -> httpx.Response:
    """POST to ``path`` as a client sees it (Starlette re-raises a 500's exception for the
    server's log; the client gets the response)."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(app), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://scrm.test") as c:
            return await c.post(path)

    return asyncio.run(go())


def _samples() -> list[ScrmError]:
    from scrm.core.app import SchemaError, UnknownChannel
    from scrm.core.cases import TransitionError
    from scrm.core.config import ConfigError
    from scrm.core.errors import InvalidInput
    from scrm.core.metrics import PeriodError
    from scrm.core.queries import NotFound

    return [
        NotFound("no case 7"),
        TransitionError("cannot go from new to closed"),
        AnswerElsewhere(3, "feeds", "https://blog.example/post"),
        InvalidInput("a rating is between 1 and 5, not 9"),
        PeriodError("the period is empty", "from"),
        UnknownChannel("no channel 'fax2'"),
        ConfigError("scrm.toml: timezone: unknown time zone"),
        SchemaError("the database is at revision 0012, scrm needs 0013"),
    ]


def test_the_cli_maps_each_error_from_its_class(app, register_plugin, cli) -> None:
    plugin = Raising()
    register_plugin(plugin)
    for exc in _samples():
        plugin.exc = exc
        r = cli("fail", expect=type(exc).exit_status)
        assert r.stderr.strip() == f"Error: {exc}", type(exc)
    plugin.exc = ValueError("a bug")
    r = cli("fail", expect=ExitCode.ERROR)
    assert "unexpected ValueError: a bug; rerun with --debug" in r.stderr


def test_the_api_maps_each_error_from_its_class_and_a_bug_is_a_logged_500(
    app, register_plugin, caplog
) -> None:
    plugin = Raising()
    register_plugin(plugin)
    for exc in _samples():
        plugin.exc = exc
        r = _post(app, "/webhooks/fail")
        cls = type(exc)
        assert r.status_code == cls.http_status, cls
        error = r.json()["error"]
        if cls.http_status == 500:
            assert error["code"] == "internal" and str(exc) not in r.text
        elif cls.http_status > 500:
            assert error == {"code": cls.code, "message": cls.public_message, "field": None}
        else:
            assert error == {"code": cls.code, "message": str(exc), "field": exc.field}
    # A ValueError is not bad input: it is a bug, answered 500 and logged with its traceback.
    plugin.exc = ValueError("secret detail of a bug")
    with caplog.at_level(logging.ERROR, logger="scrm.server.errors"):
        r = _post(app, "/webhooks/fail")
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal"
    assert "secret detail" not in r.text
    assert any(rec.exc_info and "secret detail" in str(rec.exc_info[1]) for rec in caplog.records)


def test_a_stale_version_answers_409_with_the_current_case(app, register_plugin) -> None:
    from helpers import message

    app.ingest([message("c1", "Kargom gelmedi, berbat!")])
    case_id = app.cases()[0].id
    plugin = Raising()
    plugin.exc = Conflict(case_id, 0, app.case(case_id).version)
    register_plugin(plugin)
    r = _post(app, "/webhooks/fail")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "version_conflict"
    assert r.json()["error"]["field"] == "version"
    assert r.json()["current"]["id"] == case_id
    assert r.headers["ETag"] == f'"{app.case(case_id).version}"'


def test_a_message_is_a_template_with_named_values() -> None:
    from scrm.core.errors import N_, InvalidInput, Refused

    err = Refused(N_("case %(id)s is already merged into case %(into)s"), id=4, into=2)
    assert str(err) == "case 4 is already merged into case 2" and err.args == (str(err),)
    assert (err.message, err.params) == ("case %(id)s is already merged into case %(into)s", {"id": 4, "into": 2})  # fmt: skip
    named = InvalidInput(N_("no agent %(name)r"), "agent", name="ece")
    assert (str(named), named.field) == ("no agent 'ece'", "agent")
    # Without values a message is not a template: a % in it, a user's text, stays as it is.
    assert str(InvalidInput("100% of %(x)s")) == "100% of %(x)s"


def test_every_refusal_written_in_the_code_is_a_marked_template() -> None:
    """An error a person can see (HTTP status below 500) is raised with its message marked
    ``N_``, so `make console-messages` extracts it and the catalogue test asks for its
    translation: a new or reworded refusal cannot stay in English in the console unnoticed.
    A message passed on from elsewhere (a variable, ``str(exc)``) is not checked."""
    import ast
    from pathlib import Path

    shown = {name.rsplit(".", 1)[1] for name, cls in _error_classes().items() if cls.http_status < 500}
    unmarked = []
    for path in sorted(Path(scrm.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id in shown and node.args:
                first = node.args[0]
                if isinstance(first, ast.JoinedStr | ast.BinOp) or (
                    isinstance(first, ast.Constant) and isinstance(first.value, str)
                ):
                    unmarked.append(f"{path.name}:{node.lineno}: {ast.unparse(first)[:60]}")
    assert unmarked == [], "raise it as Error(N_('... %(name)s ...'), name=value)"
