"""Alerts follow departments as cases do: an agent key limited to departments sees, counts
and acknowledges only the alerts about cases of its departments (of a mixed alert, only its
own cases), in the console and on `GET /api/v1/alerts`; other roles see every alert.  A
spike of mentions is about no case and concerns everyone."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from consolekit import agent_key, client, sign_in
from serverkit import auth, make_key, seed_cases

from scrm.core.app import Scrm
from scrm.core.dispatch import record
from scrm.core.events import CoordinatedDetected, SpikeDetected
from scrm.core.models import Case, Department, StoredEvent


@pytest.fixture
def alerts(app: Scrm, cli: Any) -> dict[str, int]:
    """Case 1 is support's, case 3 sales'; an alert about each, one about both, a spike."""
    seed_cases(app, cli)
    cli("agents", "add", "mert", "--department", "sales")
    with app.session() as s:
        sales = s.scalar(sa.select(Department.id).where(Department.code == "sales"))
        s.execute(sa.update(Case).where(Case.id == 3).values(department_id=sales))
    spike = SpikeDetected(scope="brand", metric="mentions", hour=datetime(2024, 10, 21, 9, tzinfo=UTC),
                          count=90, baseline=4.0, p_value=0.0001)  # fmt: skip
    names = ("support", "sales", "both", "spike")
    with app.session() as s:
        batch = record(s, [CoordinatedDetected(case_ids=[1], evidence={}),
                           CoordinatedDetected(case_ids=[3], evidence={}),
                           CoordinatedDetected(case_ids=[1, 3], evidence={}), spike])  # fmt: skip
        ids = s.scalars(sa.select(StoredEvent.id).where(StoredEvent.batch_id == batch)
                        .order_by(StoredEvent.position)).all()  # fmt: skip
    return dict(zip(names, ids, strict=True))


def shown(page: str) -> dict[int, list[int]]:
    """The alerts on an alerts page, each with the cases it links."""
    out = {}
    for block in re.split(r'(?=<li[^>]*data-alert=")', page)[1:]:
        alert = int(re.search(r'data-alert="(\d+)"', block).group(1))  # type: ignore[union-attr]
        out[alert] = [int(n) for n in re.findall(r'href="/app/cases/(\d+)"', block)]
    return out


def test_each_role_sees_the_alerts_of_its_departments(app: Scrm, alerts: dict[str, int]) -> None:
    a = alerts
    keys = {
        "support agent": agent_key(app),
        "sales agent": agent_key(app, agent="mert", department="sales"),
        "admin": make_key(app, "admin"),
        "readonly": make_key(app, "readonly"),
    }
    expected = {
        "support agent": {a["support"]: [1], a["both"]: [1], a["spike"]: []},
        "sales agent": {a["sales"]: [3], a["both"]: [3], a["spike"]: []},
        "admin": {a["support"]: [1], a["sales"]: [3], a["both"]: [1, 3], a["spike"]: []},
        "readonly": {a["support"]: [1], a["sales"]: [3], a["both"]: [1, 3], a["spike"]: []},
    }
    for role, token in keys.items():
        c = client(app)
        sign_in(c, token)
        page = c.get("/app/alerts?partial=1")
        assert shown(page.text) == expected[role], role
        assert page.headers["x-console-alerts"] == str(len(expected[role])), role
        listed = c.get("/api/v1/alerts", headers=auth(token)).json()
        assert {x["id"]: x["case_ids"] for x in listed} == expected[role], role
        unacked = c.get("/api/v1/alerts?open=true&limit=2", headers=auth(token)).json()
        assert [x["id"] for x in unacked] == sorted(expected[role], reverse=True)[:2], role


def test_an_agent_acknowledges_only_the_alerts_of_its_departments(
    app: Scrm, alerts: dict[str, int]
) -> None:
    token = agent_key(app)  # support
    c = client(app)
    csrf = sign_in(c, token)
    r = c.post(f"/app/alerts/{alerts['sales']}/acknowledge", data={"csrf": csrf})
    assert r.status_code == 404 and f"no alert {alerts['sales']}" in r.text
    r = c.post(f"/api/v1/alerts/{alerts['sales']}/acknowledge", json={}, headers=auth(token))
    assert r.status_code == 404
    for name in ("both", "spike"):
        r = c.post(f"/app/alerts/{alerts[name]}/acknowledge", data={"csrf": csrf})
        assert r.status_code == 200 and "Acknowledged by ece" in r.text, name
    admin = auth(make_key(app, "admin"))
    r = c.post(f"/api/v1/alerts/{alerts['sales']}/acknowledge", json={}, headers=admin)
    assert r.status_code == 200
    listed = c.get("/api/v1/alerts?open=true", headers=admin).json()
    assert [x["id"] for x in listed] == [alerts["support"]]
