"""Domain events through the public API: recorded with the change, dispatched once per
consumer, seen by wrappers and tracing; plugins get their application as context."""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from helpers import message

from scrm import hookimpl
from scrm.core.app import open_app
from scrm.core.cases import Conflict
from scrm.core.config import Config
from scrm.core.dispatch import EventContext
from scrm.core.events import EVENT_TYPES, CaseOpened, decode
from scrm.core.models import (
    EventBatch,
    EventDelivery,
    StoredEvent,
    WebhookDelivery,
    WebhookSubscription,
)
from scrm.core.plugins import get_plugin_manager
from scrm.core.services import cases as case_service
from scrm.plugins.tables.sales import Lead

LEAD = "How much is the fiber plan? I want to sign up."


def _count(app: Any, model: Any) -> int:
    with app.session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def _subscribe(app: Any, url: str) -> None:
    with app.session() as s:
        s.add(WebhookSubscription(url=url, event_types=[], active=True, created_by="test"))


@pytest.mark.integration  # two databases of its own
def test_two_applications_on_one_plugin_manager_keep_to_their_own_databases(
    _sqlite_template: Path, tmp_path: Path
) -> None:
    """The department modules and webhooks work on the application they are dispatched for,
    not on the one started last."""
    urls = []
    for name in ("a", "b"):
        shutil.copyfile(_sqlite_template, tmp_path / f"{name}.db")
        urls.append(f"sqlite:///{tmp_path / name}.db")
    pm = get_plugin_manager()
    a = open_app(config=Config(database_url=urls[0]), pm=pm)
    b = open_app(config=Config(database_url=urls[1]), pm=pm)  # started last
    _subscribe(b, "https://b.example.com/hook")
    a.upgrade()
    b.upgrade()

    a.ingest([message("l1", LEAD, author="u1")])
    assert (_count(a, Lead), _count(b, Lead)) == (1, 0)
    assert _count(a, WebhookDelivery) == 0, "A has no subscriber"
    assert _count(b, WebhookDelivery) == 0, "B's subscriber hears nothing of A"

    b.ingest([message("l2", LEAD, author="u2")])
    assert (_count(a, Lead), _count(b, Lead)) == (1, 1)
    with b.session() as s:
        types = set(s.scalars(sa.select(WebhookDelivery.event_type)))
    assert {"case.opened", "interaction.stored"} <= types


class Recorder:
    """A consumer that records what it handles, and what its context offered."""

    def __init__(self) -> None:
        self.opened: list[int | None] = []
        self.apps: list[Any] = []

    @hookimpl
    def case_opened(self, case: Any, ctx: EventContext) -> None:
        self.opened.append(case.id)
        self.apps.append(ctx.app)


def test_events_are_recorded_with_the_change_and_dispatched_once_per_consumer(
    app: Any, register_plugin: Any
) -> None:
    rec = Recorder()
    register_plugin(rec)
    app.ingest([message(1, "kargom gelmedi"), message(2, "faturam yanlış", author="u2")])
    cases = [c.id for c in app.cases()]
    assert sorted(rec.opened) == sorted(cases) and rec.apps == [app, app]
    with app.session() as s:
        (batch,) = s.scalars(sa.select(EventBatch))
        assert batch.dispatched_at is not None
        rows = s.execute(
            sa.select(StoredEvent.type, StoredEvent.payload)
            .where(StoredEvent.batch_id == batch.id)
            .order_by(StoredEvent.position)
        ).all()
        consumers = set(s.scalars(sa.select(EventDelivery.consumer)))
    events = decode([(t, p) for t, p in rows])
    kinds = [type(e).__name__ for e in events]
    assert kinds[:2] == ["InteractionStored", "InteractionStored"]
    assert kinds.count("CaseOpened") == 2 and kinds[-1] == "BatchCommitted"
    batch_event = events[-1]
    assert [i.external_id for i in batch_event.interactions] == ["1", "2"]  # type: ignore[attr-defined]
    assert {"webhooks", "sales", "rnd"} <= consumers

    # The worker finds nothing left to do: nobody gets the batch twice.
    assert app.events.dispatch_pending() == 0
    app.events.dispatch((batch.id, events))  # a second dispatch (a racing worker)
    assert len(rec.opened) == 2


def test_a_refused_change_writes_no_event(app: Any) -> None:
    app.ingest([message(1, "kargom gelmedi")])
    case = app.cases()[0]
    before = _count(app, StoredEvent)
    with pytest.raises(Conflict):
        case_service.transition(app, case.id, "acknowledged", actor="ece", expected_version=99)
    assert _count(app, StoredEvent) == before
    case_service.transition(app, case.id, "acknowledged", actor="ece")
    with app.session() as s:
        newest = s.scalar(sa.select(StoredEvent.type).order_by(StoredEvent.id.desc()).limit(1))
    assert newest == "case_transitioned"


def test_wrappers_and_tracing_see_every_dispatch(
    scrm_database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    wrapped: Counter[str] = Counter()

    class Wrapper:
        @hookimpl(wrapper=True)
        def case_opened(self, case: Any) -> Any:
            wrapped["case_opened"] += 1
            return (yield)

        @hookimpl(wrapper=True)
        def interaction_stored(self, interaction: Any) -> Any:
            wrapped["interaction_stored"] += 1
            return (yield)

    rec = Recorder()
    monkeypatch.setenv("SCRM_TRACE_PLUGINS", "1")
    app = open_app(scrm_database_url, plugins=[rec, Wrapper()])
    with caplog.at_level(logging.INFO, logger="scrm.core.plugins"):
        app.ingest([message(1, "kargom gelmedi")])
    app.close()
    consumers = {h: len(app.events.consumers([h])) for h in ("case_opened", "interaction_stored")}
    assert wrapped == consumers  # one wrapped call per consumer and event
    traced = [r.getMessage() for r in caplog.records if r.name == "scrm.core.plugins"]
    assert sum("case_opened [hook]" in m for m in traced) == consumers["case_opened"]
    assert sum("interaction_stored [hook]" in m for m in traced) == consumers["interaction_stored"]
    assert len(rec.opened) == 1


def test_a_failing_consumer_keeps_nothing_and_stops_no_one(
    app: Any, register_plugin: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        @hookimpl
        def case_opened(self, case: Any, ctx: EventContext) -> None:
            ctx.session.add(WebhookSubscription(url="https://x.example", event_types=[],
                                                active=True, created_by="broken"))  # fmt: skip
            ctx.emit(CaseOpened(case=case))
            raise RuntimeError("notifier down")

    rec = Recorder()
    register_plugin(rec)
    register_plugin(Broken())
    app.ingest([message(1, "kargom gelmedi")])
    assert "notifier down" in caplog.text
    assert len(rec.opened) == 1, "its emitted event was dropped with its writes"
    assert _count(app, WebhookSubscription) == 0


def test_every_after_commit_hook_has_an_event_class() -> None:
    import scrm.core.hookspecs as specs

    # Decision hooks get a PluginContext as ctx; after-commit hooks an EventContext.
    after_commit = {
        name
        for name in dir(specs)
        if getattr(getattr(specs, name), "__annotations__", {}).get("ctx") == "EventContext"
    }
    assert after_commit == set(EVENT_TYPES)


def test_auto_acknowledge_is_a_consumer_of_case_opened(scrm_database_url: str) -> None:
    """Every new case gets its acknowledgment queued once, and moves to acknowledged; an
    application without the setting, on the same plugin manager, acknowledges nothing."""
    from scrm.core.models import OutboxMessage

    config = Config(database_url=scrm_database_url, cases={"auto_acknowledge": True})
    app = open_app(config=config)
    app.upgrade()
    app.ingest([message(1, "kargom gelmedi"), message(2, "faturam yanlış", author="u2")])
    cases = app.cases()
    assert {c.status for c in cases} == {"acknowledged"}
    with app.session() as s:
        keys = sorted(s.scalars(sa.select(OutboxMessage.idempotency_key)))
        actors = set(s.scalars(sa.select(OutboxMessage.actor)))
    assert keys == sorted(f"ack:{c.id}" for c in cases) and actors == {"auto-ack"}
    detail = app.case(cases[0].id)
    assert any(e.action == "status" and e.actor == "auto-ack" for e in detail.events)

    plain = open_app(config=Config(database_url=scrm_database_url), pm=app.pm)
    plain.ingest([message(3, "hâlâ gelmedi", author="u3")])
    newest = max(plain.cases(), key=lambda c: c.id)
    assert newest.status == "new"
    app.close()
    plain.close()


def test_the_worker_deletes_dispatched_events_after_a_week(app: Any) -> None:
    from datetime import timedelta

    from scrm.core.db import utcnow
    from scrm.core.worker import Worker

    app.ingest([message(1, "kargom gelmedi")])
    assert _count(app, StoredEvent) > 0
    (summary,) = Worker(app).run_once(now=utcnow(), only={"events"}).values()
    assert summary == "0 event batches dispatched, 0 old ones deleted"
    assert app.events.prune(now=utcnow() + timedelta(days=6)) == 0
    assert app.events.prune(now=utcnow() + timedelta(days=8)) == 1
    assert (_count(app, StoredEvent), _count(app, EventBatch), _count(app, EventDelivery)) == (
        0,
        0,
        0,
    )
