"""The brand isolation walk: a caller of one brand never sees or changes another brand's data.

Two brands share one database, each with customers, cases, messages, an agent, a reply in
the outbox, an alert and an API key.  With a key of brand B the test walks every route of
the application (from its route list, so a new route is walked without being listed here):
each REST route with the bearer key, each console page signed in with it, filling every
path parameter with an id of brand A's data.  No answer may name brand A's data, a route
aimed at A's data must answer 403 or 404, and afterwards A's rows are exactly as they were.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from consolekit import client as console_client
from consolekit import flash_of, sign_in
from helpers import message
from serverkit import SERVER_KEY, SyncClient, auth, make_key

from scrm.core.app import Scrm
from scrm.core.config import Config
from scrm.core.dispatch import record
from scrm.core.events import CoordinatedDetected
from scrm.core.models import (
    AlertAck,
    Case,
    CaseEvent,
    Customer,
    CustomerMerge,
    Interaction,
    LabelCorrection,
    StoredEvent,
)
from scrm.core.tenancy import BrandOptional, BrandOwned, BrandShared
from scrm.server import create_app
from scrm.server.app import iter_routes

#: What brand A's data says, so that an answer showing any of it is caught.
MARK = "acmeonly"
BRANDS = {
    "acme": {"name": "Acme", "accounts": {"twitter": ["acme_tr"], "phone": ["444 0 226"]}},
    "globex": {"name": "Globex", "accounts": {"twitter": ["globex"]}},
}
#: Routes about no brand's data: documentation, probes, platform deliveries.
NO_DATA = {"/openapi.json", "/docs", "/redoc", "/healthz", "/readyz"}


@pytest.fixture
def scrm_config(scrm_database_url: str) -> Config:
    return Config(
        database_url=scrm_database_url,
        server={"secret_key": SERVER_KEY, "deliver_interval": 0},
        brands=BRANDS,
    )


@dataclass
class World:
    """Brand A's ids, which brand B's key aims at."""

    case: int
    interaction: int
    customer: int
    other_customer: int
    merged_customer: int
    alert: int
    agent: str


def _ids(app: Scrm, external_id: str) -> tuple[int, int, int]:
    [it] = [i for i in app.interactions() if i.external_id == external_id]
    assert it.case_id is not None and it.customer_id is not None
    return it.case_id, it.id, it.customer_id


@pytest.fixture
def world(app: Scrm) -> World:
    from scrm.core import customers as customer_ops
    from scrm.core.agents import AgentIn
    from scrm.core.services import agents, outbox

    acme = app.for_brand("acme")
    app.ingest(
        [
            message(f"a{n}", f"{MARK} siparişim {n} gelmedi, berbat!", account="acme_tr",
                    author_obj={"external_id": f"p{n}", "display_name": f"{MARK} kişi {n}",
                                "handle": f"{MARK}_{n}"})
            for n in range(4)
        ]
        + [
            message(f"g{n}", f"Globex faturam {n} yanlış, berbat!", account="globex",
                    author=f"p{n}")
            for n in range(2)
        ]
        + [
            message("call", f"{MARK} telefon şikayeti, kargo gelmedi", channel="phone",
                    account="444 0 226", author_obj={"external_id": "+905320000001",
                    "phone": "+90 532 000 00 01", "display_name": f"{MARK} arayan"})
        ]
    )  # fmt: skip
    case, interaction, customer = _ids(app, "a0")
    other = _ids(app, "a1")[2]
    merged = _ids(app, "a2")[2]
    with acme.session() as s:
        customer_ops.merge(s, merged, _ids(app, "a3")[2], actor="setup")
    agents.save(acme, AgentIn(username=f"{MARK}_ece", department="support"), actor="setup")
    outbox.reply(acme, case, actor="setup", text=f"{MARK} bakıyoruz")
    with app.session() as s:
        batch = record(s, [CoordinatedDetected(case_ids=[case], evidence={})])
        alert = s.scalar(sa.select(StoredEvent.id).where(StoredEvent.batch_id == batch))
    assert alert is not None
    make_key(acme, "admin", name=f"{MARK}-key")
    return World(case, interaction, customer, other, merged, alert, f"{MARK}_ece")


def _snapshot(app: Scrm, brand: int) -> dict[str, list[str]]:
    """Every row of ``brand``, and every row of the tables that hang off cases, messages,
    customers and alerts, as text."""
    from scrm.core.db import Base

    def rows(q: Any) -> list[str]:
        return sorted(repr(tuple(r)) for r in s.execute(q))

    out: dict[str, list[str]] = {}
    with app.session(read_only=True) as s:
        for mapper in Base.registry.mappers:
            table = mapper.local_table
            if issubclass(mapper.class_, BrandOwned | BrandOptional | BrandShared):
                out[table.name] = rows(sa.select(table).where(table.c.brand_id == brand))
        mine = {
            "cases": sa.select(Case.id).where(Case.brand_id == brand),
            "interactions": sa.select(Interaction.id).where(Interaction.brand_id == brand),
            "customers": sa.select(Customer.id).where(Customer.brand_id == brand),
        }
        for column, parent in (
            (CaseEvent.case_id, "cases"),
            (LabelCorrection.interaction_id, "interactions"),
            (CustomerMerge.source_id, "customers"),
        ):
            out[column.class_.__tablename__] = rows(
                sa.select(column.class_.__table__).where(column.in_(mine[parent]))
            )
        out["alert_acks"] = rows(sa.select(AlertAck.__table__))  # brand B has no alert
    return out


def _body(method: str, path: str, w: World) -> dict[str, Any]:
    """A valid body for each changing route, so that the call reaches the data it aims at."""
    bodies = {
        "/merge": {"into": w.other_customer} if "customers" in path else {"into": w.case},
        "/transitions": {"to": "acknowledged"},
        "/transition": {"to": "acknowledged"},
        "/assign": {"agent": w.agent},
        "/replies": {"text": "Bakıyoruz."},
        "/reply": {"text": "Bakıyoruz."},
        "/answers": {"text": "Cevap verdik.", "url": "https://blog.test/post"},
        "/promises": {"due": "4h"},
        "/labels": {"category": "billing"},
        "/incident": {"incident": "outage"},
        "/password": {"password": "correct horse battery"},
    }
    for suffix, body in bodies.items():
        if path.endswith(suffix):
            return body
    if path == "/api/v1/interactions":  # the same caller as brand A's, to brand B
        return {"channel": "phone", "record_id": "B-1", "received_at": "2024-10-21T10:00:00+03:00",
                "caller": {"name": "Arayan", "phone": "+90 532 000 00 01"},
                "text": "Kargom gelmedi"}  # fmt: skip
    if re.fullmatch(r"/api/v1/agents/[^/]+", path):
        return {"department": "support"}
    return {}


def _fill(template: str, w: World) -> str:
    values = {
        "case_id": w.case,
        "interaction_id": w.interaction,
        "customer_id": w.merged_customer if template.endswith("/unmerge") else w.customer,
        "alert_id": w.alert,
        "username": w.agent,
    }
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), template)


def test_a_key_of_one_brand_sees_and_changes_nothing_of_another(app: Scrm, world: World) -> None:
    acme_id, globex = app.brands.id_of("acme"), app.for_brand("globex")
    before = _snapshot(app, acme_id)
    token = make_key(globex, "admin", name="globex-admin")
    api = SyncClient(create_app(app))
    console = console_client(app)
    csrf = sign_in(console, token)
    walked = []
    for method, template, _route in iter_routes(create_app(app)):
        if template in NO_DATA or template.startswith("/webhooks/"):
            continue
        path = _fill(template, world)
        body = _body(method, path, world)
        if template.startswith("/app"):
            if template in ("/app/signin", "/app/signout", "/app/signin/password"):
                continue  # signing in and out: no data
            if method == "GET":
                r = console.get(path)
            else:
                r = console.post(path, data={**body, "csrf": csrf}, follow_redirects=True)
        else:
            sent = body if method in ("POST", "PUT", "PATCH") else None
            r = api.request(method, path, json=sent, headers=auth(token))
        walked.append((method, template, r.status_code))
        assert r.status_code < 500, (method, template, r.text[:300])
        # An answer may repeat what the caller sent (the username in the path), nothing else.
        shown = r.text.lower().replace(world.agent, "") if world.agent in path else r.text.lower()
        assert MARK not in shown, (method, template, "shows brand A's data")
        if path != template:  # aimed at brand A's record: refused as if it did not exist
            if template.startswith("/app") and method == "POST" and r.status_code == 200:
                # The console shows a refused action as a message on the next page.
                assert any(f.startswith("no ") for f in flash_of(r.text)), (template, r.text)
            else:
                assert r.status_code in (403, 404), (method, template, r.status_code, r.text[:200])
    assert _snapshot(app, acme_id) == before, "brand A's data changed"
    assert len(walked) > 30
    # Brand B's own data is there for it: the walk is not empty because everything is.
    cases = api.get("/api/v1/cases", headers=auth(token)).json()["items"]
    assert len(cases) == 3  # its two messages, and the call recorded in the walk


def test_the_same_key_of_brand_a_does_see_its_data(app: Scrm, world: World) -> None:
    token = make_key(app.for_brand("acme"), "admin", name="acme-admin")
    api = SyncClient(create_app(app))
    r = api.get(f"/api/v1/cases/{world.case}", headers=auth(token))
    assert r.status_code == 200 and MARK in r.text
    listed = api.get("/api/v1/customers", headers=auth(token)).json()["items"]
    assert {c["id"] for c in listed} >= {world.customer, world.other_customer}
    # The agency's key sees both brands.
    agency = make_key(app, "admin", name="agency")
    every = api.get("/api/v1/cases?limit=200", headers=auth(agency)).json()["items"]
    assert len(every) == len(app.cases())
    assert json.dumps(every).count(MARK) > 0


#: Commands the walk does not run, and why: none of them shows or changes stored data.
NOT_WALKED = {
    "serve": "serves the routes walked above",
    "worker": "runs until stopped; its rounds are walked (outbox deliver, sla check...)",
    "sla watch": "runs until stopped; sla check is walked",
    "mastodon stream": "runs until stopped, against a platform",
    "init": "writes a configuration file",
    "db upgrade": "migrates the schema",
    "classify": "JSON lines in, JSON lines out; no stored data",
    "promises detect": "JSON lines in, JSON lines out; no stored data",
    "eval": "scores a model file against a labelled file",
    "train": "writes a model file from labelled files",
    "playbook validate": "checks a folder of templates",
    "email import": "reads mail files; what it ingests is walked with ingest",
    "email poll": "reaches a mailbox",
    "facebook poll": "reaches the platform",
    "feeds poll": "reaches the feeds",
    "mastodon poll": "reaches the platform",
    "mastodon thread": "reaches the platform",
    "twitter poll": "reaches the platform",
}


#: Aimed commands that succeed for brand B, and why that is right (the snapshot checks A).
SUCCEED = {
    "ingest": "stores the message as B's own, refusing the line naming A's account (exit 3)",
    "playbook show": "templates are configuration, not a brand's data",
    "apikey create": "creates B's own key (linked to no agent of A: it is refused)",
    "campaigns report": "campaigns are configuration",
    "rejects replay": "replays the caller's own rejects among those named: none",
}


def _commands(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    import click

    ctx = click.Context(group)
    found: list[tuple[str, Any]] = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        path = f"{prefix}{name}"
        found += _commands(cmd, f"{path} ") if isinstance(cmd, click.Group) else [(path, cmd)]
    return found


@dataclass
class More:
    """Brand A's records only the command line reaches."""

    outbox: int
    reject: int
    key: int
    webhook: int
    lead: int
    file: str


@pytest.fixture
def more(app: Scrm, cli: Any, world: World, tmp_path: Any) -> More:
    from scrm.core.models import ApiKey, OutboxMessage, Reject

    acme = app.for_brand("acme")
    acme.ingest([message("lead", f"{MARK} fiber paketinin fiyatı ne kadar? Almak istiyorum.",
                         account="acme_tr", author="buyer")])  # fmt: skip
    acme.ingest([{"channel": "twitter", "external_id": "bad", "text": MARK}])
    cli("--brand", "acme", "webhooks", "add", f"http://127.0.0.1:9/{MARK}")
    leads = json.loads(cli("--brand", "acme", "leads", "list", "--json").stdout)
    with app.session() as s:
        outbox = s.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.case_id == world.case))
        reject = s.scalar(sa.select(Reject.id).where(Reject.brand_id.is_not(None)))
        key = s.scalar(sa.select(ApiKey.id).where(ApiKey.name == f"{MARK}-key"))
    hooks = json.loads(cli("--brand", "acme", "webhooks", "list", "--json").stdout)
    (hook,) = [w["id"] for w in hooks]
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(message("walk", "Kargom gelmedi", account="acme_tr")) + "\n")
    assert outbox and reject and key and leads
    return More(outbox, reject, key, hook, leads[0]["id"], str(path))


def _args(path: str, w: World, m: More) -> list[str] | None:
    """The arguments that aim command ``path`` at brand A's data (None: it takes none)."""
    case, other = str(w.case), str(w.case + 1)
    aimed = {
        "agents add": [w.agent, "--department", "support"],
        "agents password": [w.agent, "--password-stdin"],
        "apikey create": ["walk", "--role", "agent", "--department", "support", "--agent", w.agent],
        "apikey revoke": [str(m.key)],
        "campaigns report": ["launch"],
        "case answered": [case, "--text", "Cevap verdik.", "--url", "https://blog.test/"],
        "case assign": [case, w.agent],
        "case link": [case, other, "--incident", "outage"],
        "case merge": [case, other],
        "case move": [str(w.interaction)],
        "case promise": [case, "--due", "4h"],
        "case rate": [case, "4"],
        "customers erase": [str(w.customer), "--yes"],
        "customers export": [str(w.customer)],
        "customers merge": [str(w.customer), str(w.other_customer)],
        "customers show": [str(w.customer)],
        "customers unmerge": [str(w.merged_customer)],
        "ideas show": ["1"],
        "inbox retry": ["1"],
        "ingest": [m.file, "--format", "interactions"],
        "interactions show": [str(w.interaction)],
        "label": [str(w.interaction), "--category", "billing"],
        "leads show": [str(m.lead)],
        "leads update": [str(m.lead), "--status", "qualified"],
        "outbox retry": [str(m.outbox)],
        "playbook show": ["delivery"],
        "rejects replay": [str(m.reject)],
        "rejects show": [str(m.reject)],
        "reply": [case, "--text", "Bakıyoruz."],
        "route explain": [str(w.interaction)],
        "webhooks remove": [str(m.webhook)],
        "webhooks test": [str(m.webhook)],
    }
    if path in aimed:
        return aimed[path]
    if path.startswith("case "):  # the moves: ack, contact, investigate...
        return [case]
    return None


def test_a_command_for_one_brand_sees_and_changes_nothing_of_another(
    app: Scrm, cli: Any, world: World, more: More
) -> None:
    from scrm.cli import build_cli

    acme_id = app.brands.id_of("acme")
    before = _snapshot(app, acme_id)
    walked = []
    for path, command in _commands(build_cli(app.pm, app.config)):
        if path in NOT_WALKED:
            continue
        args = _args(path, world, more)
        lists = any("--json" in getattr(p, "opts", ()) for p in command.params)
        run = ["--brand", "globex", *path.split(), *(args or []), *(["--json"] if lists else [])]
        result = cli(*run, expect=None, input="correct horse battery\n")
        walked.append(path)
        said = (result.stdout + result.stderr).lower()
        assert "unexpected" not in said, (path, said[:300])
        for typed in args or ():  # a refusal may repeat what the caller typed, nothing else
            said = said.replace(typed.lower(), "")
        assert MARK not in said, (path, said[:400])
        if args is not None and path not in SUCCEED:
            assert result.exit_code != 0, (path, "did something to brand A's record")
    assert _snapshot(app, acme_id) == before, "brand A's data changed"
    assert len(walked) > 60
