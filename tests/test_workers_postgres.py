"""Several worker processes on one PostgreSQL: duplicate streams, a worker killed with SIGKILL
mid-delivery, and still every message stored once, every reply sent once, every breach once."""

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

from scrm.core.models import Interaction, OutboxMessage, SlaAlert

HERE = Path(__file__).parent
PROC = HERE / "workerproc.py"


@pytest.fixture
def pg_url(scrm_database_url):
    if not scrm_database_url.startswith("postgresql"):
        pytest.skip("several worker processes share one PostgreSQL; SQLite runs one worker")
    return scrm_database_url


def run(*args, env, wait=True):
    cmd = [sys.executable, str(PROC), *args]
    if wait:
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=True)
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_workers_share_the_work_and_survive_a_kill(pg_url, tmp_path):
    sink, hooklog = tmp_path / "sink.jsonl", tmp_path / "hooks.jsonl"
    env = {
        **os.environ,
        "SCRM_SINK": str(sink),
        "SCRM_HOOKLOG": str(hooklog),
        "PYTHONPATH": str(HERE),
        "SCRM_SEND_DELAY": "0.05",
        "SCRM_LEASE": "2",
    }
    # Two overlapping streams (a webhook redelivery and a poll, say), ingested at the same time.
    old = datetime.now(UTC) - timedelta(
        days=3
    )  # their deadlines are long past: every case breaches
    lines = [
        json.dumps(
            {
                "channel": "filesink",
                "external_id": f"m{i}",
                "text": f"internetim yok, {i}. gün",
                "created_at": (old + timedelta(seconds=i)).isoformat(),
                "public": True,
                "thread_key": f"t{i}",
                "author": {"external_id": f"u{i}"},
            }
        )
        for i in range(60)
    ]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("\n".join(lines[:40]) + "\n")
    b.write_text("\n".join(lines[20:]) + "\n")
    streams = [
        run("ingest", pg_url, str(a), env=env, wait=False),
        run("ingest", pg_url, str(b), env=env, wait=False),
    ]
    reports = []
    for p in streams:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        reports.append(json.loads(out))
    assert sum(r["stored"] for r in reports) == 60 and sum(r["duplicates"] for r in reports) == 20

    from workerproc import open_app

    app = open_app(pg_url)
    cases = app.cases(limit=100)
    assert len(cases) == 60
    for case in cases:
        app.workflow.reply(case.id, actor="ece", text=f"Merhaba, bakıyoruz (#{case.id})")

    # Three workers deliver and sweep deadlines; one of them is killed in the middle.
    workers = [run("work", pg_url, "12", env=env, wait=False) for _ in range(3)]
    time.sleep(1.5)
    workers[0].send_signal(signal.SIGKILL)
    for w in workers[1:]:
        w.communicate(timeout=60)
    run(
        "work", pg_url, "4", env=env
    )  # after the leases ran out: the killed worker's rows are settled

    sent = [json.loads(line) for line in sink.read_text().splitlines()]
    per_key = Counter(r["key"] for r in sent)
    assert len(per_key) == 60 and max(per_key.values()) == 1, "every reply sent, none twice"
    assert len({r["pid"] for r in sent}) >= 2, "the work was shared"
    with app.session() as s:
        statuses = Counter(s.scalars(sa.select(OutboxMessage.status)))
        assert statuses == {"sent": 60}
        outbound = s.scalar(
            sa.select(sa.func.count())
            .select_from(Interaction)
            .where(Interaction.direction == "outbound")
        )
        assert outbound == 60  # each delivery recorded once on its case
        breaches = s.scalar(
            sa.select(sa.func.count()).select_from(SlaAlert).where(SlaAlert.kind == "breach")
        )
    hooks = Counter(
        (r["case"], r["clock"], r["due"]) for r in map(json.loads, hooklog.read_text().splitlines())
    )
    assert len(hooks) == breaches and max(hooks.values()) == 1, (
        "every breach announced exactly once"
    )
    assert breaches >= 60
