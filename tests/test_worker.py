"""`scrm worker`: every task runs, several workers share the work, exclusive tasks never overlap."""

from __future__ import annotations

import sys
import threading
from collections import Counter
from datetime import UTC, datetime

import pytest
from helpers import message
from loopkit import FakeSocial, Recorder

from scrm.core.app import Scrm
from scrm.core.services import outbox
from scrm.core.worker import Task, Worker


@pytest.fixture
def scrm_plugins():
    FakeSocial.reset()
    return [Recorder()]


def queue_replies(app, n):
    now = datetime.now(UTC)
    app.ingest(
        [
            message(
                f"m{i}",
                "internetim yok!",
                channel="fakesocial",
                author=f"a{i}",
                public=True,
                thread_key=f"t{i}",
            )
            | {"created_at": now.isoformat()}
            for i in range(n)
        ]
    )
    for case in app.cases(limit=n):
        outbox.reply(app, case.id, actor="ece", text=f"Merhaba, bakıyoruz #{case.id}")


def test_worker_lists_and_runs_every_task(app, cli):
    listed = cli("worker", "--list").stdout
    for name in (
        "inbox",
        "outbox",
        "webhooks",
        "sla",
        "assignment",
        "retention",
        "poll:twitter",
        "poll:email",
    ):
        assert name in listed
    queue_replies(app, 2)
    out = cli("worker", "--once").stdout
    assert "outbox: sent 2" in out and "sla: " in out
    assert "poll:twitter: not configured" in out and ": failed:" not in out
    assert len(FakeSocial.sent) == 2
    r = cli("worker", "--once", "--only", "nonsense", expect=2)
    assert "unknown tasks ['nonsense']" in r.stderr


def test_two_workers_never_send_the_same_reply(app):
    queue_replies(app, 30)
    workers = [
        Worker(
            Scrm(app.config, app.pm),
            [Task("outbox", 0, lambda a, now: str(outbox.deliver(a, limit=5)), exclusive=False)],
        )
        for _ in range(2)
    ]

    def loop(w):
        for _ in range(10):
            w.run_once()

    threads = [threading.Thread(target=loop, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = Counter(m.idempotency_key for m in FakeSocial.sent)
    assert len(counts) == 30 and max(counts.values()) == 1
    assert (
        sum(
            1
            for c in app.cases(limit=100)
            for i in app.case(c.id).interactions
            if i.direction == "outbound"
        )
        == 30
    )


def test_an_exclusive_task_runs_on_one_worker_at_a_time(app):
    if app.engine.dialect.name != "postgresql":
        pytest.skip(
            "across processes and machines the lock is PostgreSQL's; SQLite runs one worker"
        )
    entered, release = threading.Event(), threading.Event()

    def slow(a, now):
        entered.set()
        release.wait(10)
        return "done"

    first = Worker(Scrm(app.config, app.pm), [Task("poll:x", 0, slow)])
    second = Worker(Scrm(app.config, app.pm), [Task("poll:x", 0, lambda a, now: "ran")])
    t = threading.Thread(target=first.run_once)
    t.start()
    assert entered.wait(10)
    assert second.run_once() == {"poll:x": None}  # skipped: the first worker holds it
    release.set()
    t.join()
    assert second.run_once() == {"poll:x": "ran"}


def test_plugins_add_tasks_with_register_tasks(app, register_plugin, cli):
    from scrm import hookimpl

    class Nightly:
        @hookimpl
        def register_tasks(self, register):
            register(
                "nightly-export", 86400, lambda a, now: f"exported at {now:%H:%M}", exclusive=True
            )

    register_plugin(Nightly())
    assert "nightly-export: every 86400 s (one worker at a time)" in cli("worker", "--list").stdout
    assert cli("worker", "--once", "--only", "nightly-export").stdout.startswith(
        "nightly-export: exported at"
    )


def test_intervals_become_cron_steps_every_worker_agrees_on():
    from scrm.core.taskqueue import cron_for

    assert cron_for(0.05) == cron_for(1) == "* * * * * *"  # procrastinate's 6th field: seconds
    assert cron_for(2) == "* * * * * */2"
    assert cron_for(45) == "* * * * * */30"
    assert cron_for(60) == "* * * * *"
    assert cron_for(90 * 60) == "0 * * * *"
    assert cron_for(3600) == "0 * * * *"
    assert cron_for(86400 * 7) == "0 0 * * *"


def test_the_queue_connects_with_the_application_url():
    from scrm.core.taskqueue import conninfo

    assert (
        conninfo("postgresql+psycopg://scrm:s3cret@db:5432/scrm?sslmode=require")
        == "postgresql://scrm:s3cret@db:5432/scrm?sslmode=require"
    )
    assert conninfo("postgres://scrm@db/scrm") == "postgresql://scrm@db/scrm"
    with pytest.raises(ValueError):
        conninfo("sqlite:///scrm.db")


def test_without_procrastinate_the_worker_says_what_to_install(app, cli, monkeypatch):
    if app.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs the tasks in one process, without procrastinate")
    monkeypatch.setitem(sys.modules, "procrastinate", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "scrm.core.taskqueue", raising=False)
    out = cli("worker", "--once", "--only", "sla", expect=4)  # a configuration error
    assert "pip install 'scrm[postgres]'" in out.output and "Traceback" not in out.output


def test_a_failing_task_fails_worker_once_with_one_log_line(app, register_plugin, cli, caplog):
    from scrm import hookimpl

    def boom(a, now):
        raise RuntimeError("mailbox password rejected")

    class Broken:
        @hookimpl
        def register_tasks(self, register):
            register("poll:broken", 60, boom)

    register_plugin(Broken())
    out = cli("worker", "--once", "--only", "poll:broken", "--only", "sla", expect=1)
    assert "poll:broken: failed: RuntimeError: mailbox password rejected" in out.stdout
    assert "sla: " in out.stdout  # the other tasks still ran
    assert "tasks failed: poll:broken" in out.stderr and "Traceback" not in out.output
    if app.engine.dialect.name == "sqlite":  # on PostgreSQL procrastinate logs the job
        [line] = [r for r in caplog.records if r.name == "scrm.core.worker"]
        assert line.exc_info is None and "mailbox password rejected" in line.getMessage()
