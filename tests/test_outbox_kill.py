"""A delivery round killed with SIGKILL: the replies it sent are on their cases, at most one
reply is left to reconcile, and the ones it never tried are still in the queue.

The round runs in a real subprocess (``workerproc.py deliver``: what ``scrm outbox deliver``
runs) whose channel appends every accepted message to a file before answering, so the test
knows what really went out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from scrm.core.models import CaseEvent, Interaction, OutboxMessage
from scrm.core.services import outbox as outbox_service

HERE = Path(__file__).parent
REPLIES = 40


def outbox_rows(app) -> list[OutboxMessage]:
    with app.session() as s:
        return list(s.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def on_their_cases(app, rows) -> set[str]:
    """Keys of the rows whose delivered message is an outbound interaction of their case."""
    with app.session() as s:
        found = {
            (case_id, external_id)
            for case_id, external_id in s.execute(
                sa.select(Interaction.case_id, Interaction.external_id).where(
                    Interaction.direction == "outbound"
                )
            )
        }
    return {r.idempotency_key for r in rows if (r.case_id, r.external_id) in found}


def delivered_events(app) -> set[int]:
    """Outbox ids with a ``reply_delivered`` event on their case's timeline."""
    with app.session() as s:
        return {
            e.data["outbox_id"]
            for e in s.scalars(sa.select(CaseEvent).where(CaseEvent.action == "reply_delivered"))
        }


def sink_keys(sink: Path) -> Counter[str]:
    lines = sink.read_text().splitlines() if sink.exists() else []
    return Counter(json.loads(line)["key"] for line in lines)


@pytest.mark.parametrize("blind", [False, True], ids=["reconciling", "blind"])
def test_a_killed_round_leaves_at_most_one_reply_to_reconcile(
    scrm_database_url, tmp_path, monkeypatch, blind
):
    from workerproc import open_app

    sink = tmp_path / "sink.jsonl"
    env = {
        **os.environ,
        "SCRM_SINK": str(sink),
        "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent)]),  # this tree's scrm
        "SCRM_SEND_DELAY": "0.05",
        "SCRM_LEASE": "1",
        **({"SCRM_BLIND": "1"} if blind else {}),
    }
    # The test's own round after the kill uses the same channel, without the delay.
    monkeypatch.setenv("SCRM_SINK", str(sink))
    if blind:
        monkeypatch.setenv("SCRM_BLIND", "1")
    app = open_app(scrm_database_url)
    now = datetime.now(UTC)
    app.ingest(
        [
            {
                "channel": "filesink",
                "external_id": f"m{i}",
                "text": f"internetim yok, {i}. gün",
                "created_at": now.isoformat(),
                "public": True,
                "thread_key": f"t{i}",
                "author": {"external_id": f"u{i}"},
            }
            for i in range(REPLIES)
        ]
    )
    for case in app.cases(limit=REPLIES):
        outbox_service.reply(app, case.id, actor="ece", text=f"Merhaba, bakıyoruz (#{case.id})")

    worker = subprocess.Popen(
        [sys.executable, str(HERE / "workerproc.py"), "deliver", scrm_database_url],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while sum(sink_keys(sink).values()) < 5:
        assert worker.poll() is None, worker.communicate()[1]
        assert time.monotonic() < deadline, "the round sent nothing"
        time.sleep(0.01)
    worker.send_signal(signal.SIGKILL)
    worker.wait()

    rows = outbox_rows(app)
    status = Counter(r.status for r in rows)
    in_flight = [r for r in rows if r.status == "sending"]
    accepted = [r for r in rows if r.status in ("accepted", "sent")]
    sent = [r for r in rows if r.status == "sent"]
    assert len(in_flight) <= 1 and status["failed"] == 0, status
    assert all(r.attempts == 0 for r in rows if r.status == "pending"), "untried: still queued"
    assert status["pending"] >= REPLIES - sum(sink_keys(sink).values()) - 1
    # Every reply the channel accepted is on its case's timeline, recorded or about to be.
    assert {r.id for r in accepted} <= delivered_events(app)
    assert on_their_cases(app, sent) == {r.idempotency_key for r in sent}
    assert set(sink_keys(sink)) - {r.idempotency_key for r in accepted} <= {
        r.idempotency_key for r in in_flight
    }

    # The next round, once the dead round's lease is over, settles the one in flight.
    report = outbox_service.deliver(app, now=datetime.now(UTC) + timedelta(seconds=5), limit=1000)
    assert report.reconciled + report.failed <= 1
    rows = outbox_rows(app)
    sent = [r for r in rows if r.status == "sent"]
    failed = [r for r in rows if r.status == "failed"]
    assert len(sent) + len(failed) == REPLIES and len(failed) <= int(blind)
    assert all("cannot tell whether it went out" in (r.last_error or "") for r in failed)
    assert {r.idempotency_key for r in failed} <= {r.idempotency_key for r in in_flight}
    keys = sink_keys(sink)
    assert max(keys.values()) == 1, "nothing sent twice"
    assert {r.idempotency_key for r in sent} <= set(keys)
    assert on_their_cases(app, sent) == {r.idempotency_key for r in sent}
    assert {r.id for r in sent} <= delivered_events(app)
    with app.session() as s:
        outbound = s.scalar(
            sa.select(sa.func.count())
            .select_from(Interaction)
            .where(Interaction.direction == "outbound")
        )
    assert outbound == len(sent)  # each delivery recorded once
