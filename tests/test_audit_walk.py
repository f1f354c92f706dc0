"""Every change a person asks for writes its audit entry, whichever face it comes through.

The test walks the whole command tree (built-in, plugin and installed-channel commands) and
every REST and console route that can change something (POST, PUT, PATCH, DELETE), runs each
against one prepared database, and checks that an audit entry naming the action was written.
A command is state-changing unless it is in :data:`READ_ONLY`; one that changes something but
writes no audit entry must be in :data:`EXEMPT` with the reason.  So a new command or route
fails here until someone decides which it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
import pytest
import sqlalchemy as sa
from consolekit import client as console_client
from consolekit import sign_in
from helpers import T0, message
from serverkit import SyncClient, auth, make_key, scrm_config  # noqa: F401

from scrm.core.app import Scrm
from scrm.core.dispatch import record
from scrm.core.events import CoordinatedDetected
from scrm.core.models import AuditEntry, InboxPayload, Interaction, OutboxMessage, StoredEvent
from scrm.core.services import cases as case_service
from scrm.server import create_app
from scrm.server.app import iter_routes

#: Commands that change nothing stored: they read, print, check or export.
READ_ONLY = {
    "advocates",
    "agents list",
    "apikey list",
    "campaigns list",
    "campaigns report",
    "campaigns spikes",
    "case show",
    "cases list",
    "classify",  # JSON lines in, JSON lines out
    "config check",
    "crises",
    "customers duplicates",
    "customers export",
    "customers list",
    "customers show",
    "db check",
    "db current",
    "eval",  # scores a model file against labelled lines
    "facebook check",
    "feeds status",
    "ideas show",
    "ideas top",
    "inbox list",
    "insights",
    "interactions list",
    "interactions show",
    "leads list",
    "leads show",
    "mastodon check",
    "outbox list",
    "playbook list",
    "playbook show",
    "playbook validate",
    "plugins",
    "promises detect",  # JSON lines in, JSON lines out
    "rejects list",
    "rejects show",
    "report",
    "review",
    "route explain",
    "schema interaction",
    "support followups",
    "twitter check",
    "webhooks list",
}

#: Commands that change something and legitimately write no audit entry, and why.
EXEMPT = {
    # Schema and files, before (or outside) the data the audit log is about.
    "db upgrade": "migrates the schema; Alembic's version table records it",
    "init": "writes a configuration file and creates the database",
    "train": "writes a model file; no database row changes",
    # Messages arriving: every one is kept with its source (ingest runs, rejects, inbox),
    # which is their record; they are not a person's change to scrm's data.
    "ingest": "messages arriving, kept with their source",
    "interactions add": "a contact arriving through the manual channel, kept with its source",
    "inbox process": "processes webhook deliveries already received",
    "rejects replay": "messages arriving again; each reject row keeps its replay",
    "email import": "messages arriving",
    "email poll": "messages arriving",
    "facebook poll": "messages arriving",
    "feeds poll": "messages arriving",
    "mastodon poll": "messages arriving",
    "mastodon stream": "messages arriving",
    "mastodon thread": "messages arriving",
    "twitter poll": "messages arriving",
    # An answer given elsewhere is stored as the brand's message through the ingest
    # pipeline (with recorded_by and the page), which is its record; that pipeline is shared
    # with every arriving message and writes no audit entry.
    "case answered": "stored through the ingest pipeline as the brand's message, naming the agent",
    # The worker's rounds, which an operator can also start by hand: each delivery, SLA alert
    # or closed case is recorded on its row and the case timeline.
    "outbox deliver": "delivery rounds; each attempt is kept on the outbox row",
    "webhooks deliver": "delivery rounds; each attempt is kept on the delivery row",
    "webhooks test": "sends a test event; the attempt is kept on the delivery row",
    "sla check": "the SLA sweep; alerts are case events",
    "sla watch": "the SLA sweep, repeated",
    "worker": "runs the rounds above",
    "serve": "serves the API, whose routes are walked below",
}


@dataclass
class World:
    """The prepared database: what each command and route acts on."""

    cases: list[int]
    interactions: list[int]
    customers: list[int]
    merged_customer: int
    lead: int
    failed_outbox: int
    dead_inbox: int
    key: int
    webhook: int
    merged_customer2: int
    alerts: list[int]


def _case_of(app: Scrm, external_id: str) -> tuple[int, int, int]:
    with app.session() as s:
        it = s.scalar(sa.select(Interaction).where(Interaction.external_id == external_id))
        assert it is not None and it.case_id is not None and it.customer_id is not None
        return it.case_id, it.id, it.customer_id


@pytest.fixture
def world(app: Scrm, cli: Any) -> World:
    cli("agents", "add", "ece", "--department", "support")
    n = 24
    app.ingest(
        [message(f"w{i}", f"Siparişim {i} hâlâ gelmedi, berbat!", author=f"a{i}") for i in range(n)]
        + [message("lead", "How much is the fiber plan? I want to sign up.", author="buyer")]
    )
    found = [_case_of(app, f"w{i}") for i in range(n)]
    cases, interactions, customers = (list(x) for x in zip(*found, strict=True))
    assert len(set(cases)) == n, "every message opened its own case"
    case_service.transition(app, cases[7], "closed", actor="setup")  # for reopen
    case_service.link(app, [cases[16], cases[17]], "walk-incident", actor="setup")  # answered together
    with app.session() as s:
        from scrm.core import customers as customer_ops

        customer_ops.merge(s, customers[20], customers[21], actor="setup")
        customer_ops.merge(s, customers[22], customers[23], actor="setup")
    with app.session() as s:  # two alerts, as the coordinated-burst detector raises them
        batch = record(s, [CoordinatedDetected(case_ids=[cases[22]], evidence={}) for _ in "ab"])
        alerts = list(
            s.scalars(
                sa.select(StoredEvent.id)
                .where(StoredEvent.batch_id == batch)
                .order_by(StoredEvent.position)
            )
        )
    with app.session() as s:
        row = OutboxMessage(
            idempotency_key="walk-failed", case_id=cases[8], channel="twitter", text="Merhaba",
            public=True, status="failed", attempts=5, actor="setup", last_error="HTTP 500",
            next_attempt_at=T0,
        )  # fmt: skip
        dead = InboxPayload(channel="twitter", body="{}", body_sha256="0" * 64, status="dead")
        s.add_all([row, dead])
        s.flush()
        failed, dead_id = row.id, dead.id
    (lead,) = [x["id"] for x in json.loads(cli("leads", "list", "--json").stdout)]
    key = int(cli("apikey", "create", "old", "--role", "readonly").stdout.split()[2])
    cli("webhooks", "add", "http://127.0.0.1:9/hook")
    (hook,) = [x["id"] for x in json.loads(cli("webhooks", "list", "--json").stdout)]
    return World(
        cases, interactions, customers, customers[20], lead, failed, dead_id, key, hook,
        customers[22], alerts,
    )  # fmt: skip


#: State-changing commands: how to run each on the prepared database, and the action its
#: audit entry names.
COMMANDS: dict[str, tuple[Callable[[World], list[str]], str]] = {
    "agents add": (lambda w: ["agents", "add", "zeynep", "--department", "support"], "agent.save"),
    "agents password": (lambda w: ["agents", "password", "ece", "--password-stdin"], "agent.password"),
    "apikey create": (lambda w: ["apikey", "create", "new", "--role", "readonly"], "apikey.create"),
    "apikey revoke": (lambda w: ["apikey", "revoke", str(w.key)], "apikey.revoke"),
    "case ack": (lambda w: ["case", "ack", str(w.cases[0])], "case.transition"),
    "case contact": (lambda w: ["case", "contact", str(w.cases[1])], "case.transition"),
    "case investigate": (lambda w: ["case", "investigate", str(w.cases[2])], "case.transition"),
    "case propose": (lambda w: ["case", "propose", str(w.cases[3])], "case.transition"),
    "case resolve": (lambda w: ["case", "resolve", str(w.cases[4])], "case.transition"),
    "case close": (lambda w: ["case", "close", str(w.cases[5])], "case.transition"),
    "case reopen": (lambda w: ["case", "reopen", str(w.cases[7])], "case.transition"),
    "case assign": (lambda w: ["case", "assign", str(w.cases[6]), "ece"], "case.assign"),
    "case promise": (lambda w: ["case", "promise", str(w.cases[6]), "--due", "4h"], "case.promise"),
    "case rate": (lambda w: ["case", "rate", str(w.cases[6]), "4"], "case.rate"),
    "case link": (
        lambda w: ["case", "link", str(w.cases[9]), str(w.cases[10]), "--incident", "outage"],
        "incident.link",
    ),
    "case merge": (lambda w: ["case", "merge", str(w.cases[11]), str(w.cases[12])], "case.merge"),
    "case move": (lambda w: ["case", "move", str(w.interactions[13])], "interaction.move"),
    "reply": (lambda w: ["reply", str(w.cases[14]), "--text", "Bakıyoruz."], "case.reply"),
    "outbox retry": (lambda w: ["outbox", "retry", str(w.failed_outbox)], "outbox.retry"),
    "inbox retry": (lambda w: ["inbox", "retry", str(w.dead_inbox)], "inbox.retry"),
    "label": (
        lambda w: ["label", str(w.interactions[15]), "--category", "billing"],
        "interaction.relabel",
    ),
    "customers merge": (
        lambda w: ["customers", "merge", str(w.customers[16]), str(w.customers[17])],
        "customer.merge",
    ),
    "customers unmerge": (
        lambda w: ["customers", "unmerge", str(w.merged_customer)],
        "customer.unmerge",
    ),
    "customers erase": (
        lambda w: ["customers", "erase", str(w.customers[18]), "--yes"],
        "customer.erase",
    ),
    "leads update": (
        lambda w: ["leads", "update", str(w.lead), "--status", "qualified"],
        "lead.update",
    ),
    "retention apply": (lambda w: ["retention", "apply"], "retention.apply"),
    "webhooks add": (lambda w: ["webhooks", "add", "http://127.0.0.1:9/other"], "webhook.add"),
    "webhooks remove": (lambda w: ["webhooks", "remove", str(w.webhook)], "webhook.remove"),
}

#: What a command of COMMANDS reads from standard input.
STDIN = {"agents password": "correct horse battery\n"}


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    ctx = click.Context(group)
    found = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        path = f"{prefix}{name}"
        found += _commands(cmd, f"{path} ") if isinstance(cmd, click.Group) else [path]
    return found


def _last_audit_id(app: Scrm) -> int:
    with app.session(read_only=True) as s:
        return s.scalar(sa.select(sa.func.max(AuditEntry.id))) or 0


def _actions_since(app: Scrm, after: int) -> list[str]:
    with app.session(read_only=True) as s:
        return list(s.scalars(sa.select(AuditEntry.action).where(AuditEntry.id > after)))


def test_every_command_is_classified(app: Scrm) -> None:
    from scrm.cli import build_cli

    tree = _commands(build_cli(app.pm, app.config))
    unknown = [c for c in tree if c not in READ_ONLY | set(EXEMPT) | set(COMMANDS)]
    assert unknown == [], "new commands: add them to COMMANDS, READ_ONLY or EXEMPT"
    assert not READ_ONLY & set(EXEMPT) and not READ_ONLY & set(COMMANDS)


def test_every_state_changing_command_writes_its_audit_entry(
    app: Scrm, cli: Any, world: World
) -> None:
    from scrm.cli import build_cli

    tree = _commands(build_cli(app.pm, app.config))
    assert set(COMMANDS) <= set(tree), "COMMANDS names a command that no longer exists"
    missing = []
    for path in tree:
        if path not in COMMANDS:
            continue
        args, action = COMMANDS[path]
        before = _last_audit_id(app)
        cli(*args(world), input=STDIN.get(path))
        if action not in _actions_since(app, before):
            missing.append(path)
    assert missing == [], "commands that wrote no audit entry"


#: Routes that change something and legitimately write no audit entry, and why.
EXEMPT_ROUTES = {
    ("POST", "/api/v1/interactions"): "a contact arriving through the manual channel",
    ("POST", "/api/v1/cases/{case_id}/answers"): "stored through the ingest pipeline, as the CLI",
    ("POST", "/api/v1/admin/deliver"): "a delivery round, as `scrm outbox deliver`",
    ("POST", "/webhooks/twitter"): "messages arriving (platform deliveries)",
    ("POST", "/webhooks/facebook"): "messages arriving (platform deliveries)",
    ("POST", "/app/signin"): "a signed session cookie; nothing stored but the key's last use",
    ("POST", "/app/signout"): "clears the session cookie",
    ("POST", "/app/signin/password"): "a signed session cookie, as /app/signin",
    ("POST", "/app/language"): "the interface language, kept in the session cookie",
    ("POST", "/app/brand"): "the brand an agency-level person views, kept in the session cookie",
}

#: State-changing routes: the path, its JSON or form body, and the action audited.
ROUTES: dict[tuple[str, str], tuple[Callable[[World], tuple[str, dict[str, Any]]], str]] = {
    ("POST", "/api/v1/customers/{customer_id}/merge"): (
        lambda w: (f"/api/v1/customers/{w.customers[16]}/merge", {"into": w.customers[17]}),
        "customer.merge",
    ),
    ("POST", "/api/v1/customers/{customer_id}/unmerge"): (
        lambda w: (f"/api/v1/customers/{w.merged_customer}/unmerge", {}),
        "customer.unmerge",
    ),
    ("POST", "/api/v1/customers/{customer_id}/erase"): (
        lambda w: (f"/api/v1/customers/{w.customers[18]}/erase", {}),
        "customer.erase",
    ),
    ("POST", "/api/v1/interactions/{interaction_id}/labels"): (
        lambda w: (f"/api/v1/interactions/{w.interactions[15]}/labels", {"category": "billing"}),
        "interaction.relabel",
    ),
    ("POST", "/api/v1/cases/{case_id}/transitions"): (
        lambda w: (f"/api/v1/cases/{w.cases[0]}/transitions", {"to": "acknowledged"}),
        "case.transition",
    ),
    ("POST", "/api/v1/cases/{case_id}/assign"): (
        lambda w: (f"/api/v1/cases/{w.cases[6]}/assign", {"agent": "ece"}),
        "case.assign",
    ),
    ("POST", "/api/v1/cases/{case_id}/replies"): (
        lambda w: (f"/api/v1/cases/{w.cases[14]}/replies", {"text": "Bakıyoruz."}),
        "case.reply",
    ),
    ("POST", "/api/v1/cases/{case_id}/promises"): (
        lambda w: (f"/api/v1/cases/{w.cases[6]}/promises", {"due": "4h"}),
        "case.promise",
    ),
    ("PUT", "/api/v1/agents/{username}"): (
        lambda w: ("/api/v1/agents/zeynep", {"department": "support"}),
        "agent.save",
    ),
    ("POST", "/app/cases/{case_id}/reply"): (
        lambda w: (f"/app/cases/{w.cases[1]}/reply", {"text": "Bakıyoruz."}),
        "case.reply",
    ),
    ("POST", "/app/cases/{case_id}/transition"): (
        lambda w: (f"/app/cases/{w.cases[2]}/transition", {"to": "investigating"}),
        "case.transition",
    ),
    ("POST", "/app/cases/{case_id}/assign"): (
        lambda w: (f"/app/cases/{w.cases[3]}/assign", {"agent": "ece"}),
        "case.assign",
    ),
    ("POST", "/app/interactions/{interaction_id}/labels"): (
        lambda w: (f"/app/interactions/{w.interactions[4]}/labels", {"category": "billing"}),
        "interaction.relabel",
    ),
    ("PUT", "/api/v1/agents/{username}/password"): (
        lambda w: ("/api/v1/agents/ece/password", {"password": "correct horse battery"}),
        "agent.password",
    ),
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): (
        lambda w: (f"/api/v1/alerts/{w.alerts[0]}/acknowledge", {}),
        "alert.acknowledge",
    ),
    ("POST", "/app/alerts/{alert_id}/acknowledge"): (
        lambda w: (f"/app/alerts/{w.alerts[1]}/acknowledge", {}),
        "alert.acknowledge",
    ),
    ("POST", "/app/cases/{case_id}/incident"): (
        lambda w: (f"/app/cases/{w.cases[2]}/incident", {"incident": "outage"}),
        "incident.link",
    ),
    ("POST", "/app/cases/{case_id}/incident/reply"): (
        lambda w: (f"/app/cases/{w.cases[16]}/incident/reply", {"text": "Arıza giderildi."}),
        "incident.reply",
    ),
    ("POST", "/app/settings/timezone"): (
        lambda w: ("/app/settings/timezone", {"timezone": "Europe/Berlin"}),
        "agent.timezone",
    ),
    ("POST", "/app/cases/{case_id}/merge"): (
        lambda w: (f"/app/cases/{w.cases[19]}/merge", {"into": w.cases[23]}),
        "case.merge",
    ),
    ("POST", "/app/interactions/{interaction_id}/move"): (
        lambda w: (f"/app/interactions/{w.interactions[10]}/move", {}),
        "interaction.move",
    ),
    ("POST", "/app/customers/{customer_id}/merge"): (
        lambda w: (f"/app/customers/{w.customers[19]}/merge", {"into": w.customers[23]}),
        "customer.merge",
    ),
    ("POST", "/app/customers/{customer_id}/unmerge"): (
        lambda w: (f"/app/customers/{w.merged_customer2}/unmerge", {}),
        "customer.unmerge",
    ),
}

CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def _changing_routes(app: Scrm) -> list[tuple[str, str]]:
    return sorted(
        (method, path)
        for method, path, _route in iter_routes(create_app(app))
        if method in CHANGING
    )


def test_every_route_is_classified(app: Scrm) -> None:
    unknown = [r for r in _changing_routes(app) if r not in set(EXEMPT_ROUTES) | set(ROUTES)]
    assert unknown == [], "new routes: add them to ROUTES or EXEMPT_ROUTES"


def test_every_state_changing_route_writes_its_audit_entry(app: Scrm, world: World) -> None:
    api = SyncClient(create_app(app))
    headers = auth(make_key(app, "admin"))
    console = console_client(app)
    csrf = sign_in(console, make_key(app, "admin", name="console", agent="ece"))
    routes = _changing_routes(app)
    assert set(ROUTES) <= set(routes), "ROUTES names a route that no longer exists"
    missing = []
    for method, template in routes:
        if (method, template) not in ROUTES:
            continue
        build, action = ROUTES[(method, template)]
        path, body = build(world)
        before = _last_audit_id(app)
        if path.startswith("/app/"):
            r = console.post(path, data={**body, "csrf": csrf})
            assert r.status_code == 200, (path, r.status_code)
        else:
            r = api.request(method, path, json=body, headers=headers)
            assert r.status_code < 300, (path, r.status_code, r.text[:300])
        if action not in _actions_since(app, before):
            missing.append((method, template))
    assert missing == [], "routes that wrote no audit entry"
