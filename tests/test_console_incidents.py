"""Answering a whole incident from the console: one reply to every open case of the case's
incident, with the playbook's templates previewed as for one case, making the call and
leaving the audit entry of `scrm reply --incident`."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from consolekit import agent_key, client, flash_of, sign_in
from serverkit import make_key, seed_cases
from test_console import _audit

from scrm.core.app import Scrm
from scrm.core.models import Case, Department, OutboxMessage


def replies(app: Scrm) -> list[tuple[int, str, str | None]]:
    with app.session() as s:
        rows = s.execute(sa.select(OutboxMessage.case_id, OutboxMessage.actor, OutboxMessage.template)
                         .order_by(OutboxMessage.case_id))  # fmt: skip
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_an_agent_answers_every_open_case_of_an_incident_as_the_cli_does(app: Scrm, cli: Any) -> None:
    seed_cases(app, cli)  # three support cases
    c = client(app)
    csrf = sign_in(c, agent_key(app))
    assert 'id="incident-reply"' not in c.get("/app/cases/1").text
    r = c.post("/app/cases/1/incident/reply", data={"template": "acknowledge", "csrf": csrf})
    assert r.status_code == 409 and "case 1 is part of no incident" in r.text
    cli("case", "link", "1", "2", "3", "--incident", "fiber cut", "--actor", "ece")
    cli("case", "resolve", "3")
    page = c.get("/app/cases/1").text
    form = page[page.index('id="incident-reply"'):]
    assert "One reply to each of the 2 open cases of incident fiber cut" in form
    assert 'href="/app/cases/1"' in form and 'href="/app/cases/2"' in form
    assert 'action="/app/cases/1/incident/reply"' in form and 'value="acknowledge"' in form
    preview = re.search(r'value="acknowledge"[^>]*> <strong>acknowledge</strong><span class="preview">([^<]+)', form)
    assert preview and "Kayıt numaranız 1." in preview.group(1), "as it would be sent on this case"

    r = c.post("/app/cases/1/incident/reply", data={"template": "acknowledge", "csrf": csrf})
    assert r.url.path == "/app/cases/1"
    assert flash_of(r.text) == ["Replies queued on 2 open cases of incident fiber cut; they are "
                                "sent on the next delivery run."]  # fmt: skip
    assert replies(app) == [(1, "ece", "acknowledge"), (2, "ece", "acknowledge")]
    assert [app.case(n).status for n in (1, 2, 3)] == ["acknowledged", "acknowledged", "resolved"]
    with app.session() as s:
        texts = dict(s.execute(sa.select(OutboxMessage.case_id, OutboxMessage.text)).all())
    assert "numaranız 1." in texts[1] and "numaranız 2." in texts[2], "each case's own number"
    c.post("/app/cases/2/incident/reply", data={"template": "acknowledge", "csrf": csrf})
    assert len(replies(app)) == 2, "the same answer is queued once per case, as by the CLI"

    # The CLI's answer to the same incident leaves the same audit entry.
    cli("reply", "--incident", "fiber cut", "--text", "Arıza giderildi.", "--actor", "ece")
    entries = _audit(app, "incident.reply")
    assert [(who, target_type, sorted(d)) for who, target_type, _, d in entries] == [
        ("ece", "incident", ["outbox_ids", "template"])] * 3  # fmt: skip
    assert entries[0][3]["template"] == "acknowledge" and len(entries[0][3]["outbox_ids"]) == 2
    assert entries[1][3]["outbox_ids"] == entries[0][3]["outbox_ids"]
    assert len(entries[2][3]["outbox_ids"]) == 2 and len(replies(app)) == 4
    r = c.post("/app/cases/1/incident/reply", data={"text": "Güncelleme", "template": "acknowledge",
                                                    "csrf": csrf})  # fmt: skip
    assert flash_of(r.text) == ["choose a template or write a text"]


def test_only_a_worker_who_may_work_every_open_case_answers_the_incident(app: Scrm, cli: Any) -> None:
    seed_cases(app, cli)
    cli("agents", "add", "mert", "--department", "sales")
    cli("case", "link", "1", "2", "--incident", "fiber cut")
    with app.session() as s:  # case 3 is sales', in the same incident
        sales = s.scalar(sa.select(Department.id).where(Department.code == "sales"))
        s.execute(sa.update(Case).where(Case.id == 3).values(department_id=sales))
    cli("case", "link", "3", "--incident", "fiber cut")
    body = {"text": "Arıza giderildi."}

    reader = client(app)
    csrf = sign_in(reader, make_key(app, "readonly"))
    assert 'id="incident-reply"' not in reader.get("/app/cases/1").text
    assert reader.post("/app/cases/1/incident/reply", data={**body, "csrf": csrf}).status_code == 403
    support = client(app)
    csrf = sign_in(support, agent_key(app))
    r = support.post("/app/cases/1/incident/reply", data={**body, "csrf": csrf})
    assert r.status_code == 403
    assert "incident fiber cut has 1 open cases outside your departments" in r.text
    sales_agent = client(app)
    csrf = sign_in(sales_agent, agent_key(app, agent="mert", department="sales"))
    assert sales_agent.post("/app/cases/1/incident/reply", data={**body, "csrf": csrf}).status_code == 404
    assert replies(app) == [] and _audit(app, "incident.reply") == []

    admin = client(app)
    csrf = sign_in(admin, make_key(app, "admin"))
    r = admin.post("/app/cases/3/incident/reply", data={**body, "csrf": csrf})
    assert "Replies queued on 3 open cases" in flash_of(r.text)[0]
    assert [(case, who) for case, who, _ in replies(app)] == [(1, "key:admin"), (2, "key:admin"), (3, "key:admin")]  # fmt: skip
