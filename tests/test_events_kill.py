"""An ingest killed with SIGKILL after its commit loses no domain event and no webhook.

The ingest runs in a real subprocess (``workerproc.py ingest-and-die``) that kills itself
right after the business commit, before any event is dispatched, or in the middle of the
dispatch, after some consumers (the webhooks plugin, an event log) handled the batch and
before the others (the department modules).  The worker's ``events`` task then hands the
committed events to every consumer that has not handled them: each consumer gets each event
once, and each stored message and opened case has exactly one webhook delivery queued.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers import jsonl, message

from scrm.core import dispatch
from scrm.core.db import utcnow
from scrm.core.models import (
    Case,
    EventBatch,
    EventDelivery,
    Interaction,
    WebhookDelivery,
    WebhookSubscription,
)
from scrm.core.worker import Worker
from scrm.plugins.tables.sales import Lead

HERE = Path(__file__).parent

MESSAGES = [
    {**m, "channel": "filesink"}  # workerproc's channel
    for m in [
        message("k0", "Faturama iki kez ücret yansımış, rezalet, iade istiyorum!", author="u9"),
        message("k1", "Fiber internet fiyatı ne kadar? Nereden alabilirim?", author="u8"),
        message("k2", "How much is the fiber plan? I want to sign up.", author="u7", minutes=9),
        *(
            message(f"c{n}", f"İnternetim {n} gündür yok, kimse aramadı!", author=f"c{n}")
            for n in range(12)
        ),
    ]
]


def logged(path: Path) -> Counter[tuple[str, str]]:
    lines = path.read_text().splitlines() if path.exists() else []
    return Counter((r["hook"], json.dumps(r["key"])) for r in map(json.loads, lines))


def webhook_deliveries(app) -> Counter[tuple[str, str]]:
    """(event type, interaction or case id) of every queued webhook delivery."""
    out: Counter[tuple[str, str]] = Counter()
    with app.session() as s:
        for event_type, payload in s.execute(
            sa.select(WebhookDelivery.event_type, WebhookDelivery.payload)
        ):
            data = payload["data"]
            key = data["id"] if event_type == "interaction.stored" else data["case"]["id"]
            out[(event_type, str(key))] += 1
    return out


@pytest.mark.parametrize("when", ["after-commit", "mid-dispatch"])
def test_a_killed_ingest_loses_no_event_and_no_webhook(
    scrm_database_url, tmp_path, monkeypatch, when
):
    from workerproc import open_app

    eventlog = tmp_path / "events.jsonl"
    monkeypatch.setenv("SCRM_EVENTLOG", str(eventlog))
    app = open_app(scrm_database_url)
    with app.session() as s:
        s.add(
            WebhookSubscription(
                url="https://hooks.example.com/crm",
                event_types=["case.opened", "interaction.stored"],
                active=True,
                created_by="test",
            )
        )
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(MESSAGES), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent)])}
    proc = subprocess.run(
        [sys.executable, str(HERE / "workerproc.py"), "ingest-and-die", scrm_database_url,
         str(source), when],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == -9, proc.stderr  # killed, not finished

    with app.session() as s:
        stored = set(s.scalars(sa.select(Interaction.id)))
        cases = set(s.scalars(sa.select(Case.id)))
        assert len(stored) == len(MESSAGES), "the business transaction committed"
        undone = s.scalars(sa.select(EventBatch.id).where(EventBatch.dispatched_at.is_(None)))
        assert len(list(undone)) == 1, "its events are waiting"
    before = webhook_deliveries(app)
    if when == "after-commit":
        assert not before and not logged(eventlog), "nothing was dispatched before the kill"
    else:
        # The consumers ordered before the one that died handled the batch and committed.
        assert before and logged(eventlog)

    # Whatever the worker finds, its consumers that already handled it do not get it again.
    monkeypatch.setattr(dispatch, "GRACE", timedelta(0))
    for _ in range(2):  # a second run finds nothing left
        Worker(app).run_once(now=utcnow() + timedelta(minutes=1), only={"events"})

    with app.session() as s:
        assert (
            s.scalar(
                sa.select(sa.func.count())
                .select_from(EventBatch)
                .where(EventBatch.dispatched_at.is_(None))
            )
            == 0
        )
        consumers = Counter(s.scalars(sa.select(EventDelivery.consumer)))
        leads = s.scalar(sa.select(sa.func.count()).select_from(Lead))
    assert set(consumers.values()) == {1}, consumers  # one record per consumer and batch
    assert {"webhooks", "sales", "crisis", "coordinated", "marketing", "rnd"} <= set(consumers)
    assert leads == 2, "the sales module got the batch"

    expected = Counter(
        {("interaction.stored", str(i)): 1 for i in stored}
        | {("case.opened", str(c)): 1 for c in cases}
    )
    assert webhook_deliveries(app) == expected  # none lost, none twice

    seen = logged(eventlog)
    assert set(seen.values()) == {1}, "each event handled once by the event log"
    assert {int(k) for h, k in seen if h == "interaction_stored"} == stored
    assert {int(k) for h, k in seen if h == "case_opened"} == cases
    assert sum(1 for h, _ in seen if h == "batch_committed") == 1
