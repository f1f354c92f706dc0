"""A worker process for the multi-process tests: a file-backed channel and a hook log.

Run as ``python workerproc.py ingest URL FILE``, ``python workerproc.py work URL SECONDS``,
``python workerproc.py deliver URL`` (one ``scrm outbox deliver`` round, any database) or
``python workerproc.py ingest-and-die URL FILE WHEN``: ingest, then SIGKILL itself right
after the business commit (``WHEN=after-commit``: before any event is dispatched) or in the
middle of the dispatch (``WHEN=mid-dispatch``: in a ``batch_committed`` hook, after the
consumers ordered before it have handled the batch).  Every domain event a :class:`EventLog`
handles is appended to ``$SCRM_EVENTLOG``.
Every send is appended to ``$SCRM_SINK`` (one JSON line per message actually sent, written
before ``send`` returns); every ``sla_breached`` call to ``$SCRM_HOOKLOG``.  Deliveries are
slow (``$SCRM_SEND_DELAY`` seconds) so that a test can kill a worker mid-delivery.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from datetime import timedelta
from typing import Any

from scrm import hookimpl
from scrm.core import dispatch, outbox
from scrm.core.app import Scrm
from scrm.core.channel import Channel
from scrm.core.config import Config
from scrm.core.dispatch import Dispatcher
from scrm.core.plugins import get_plugin_manager
from scrm.core.schemas import OutboundMessage, SendResult
from scrm.core.services import outbox as outbox_service
from scrm.core.worker import Settings, Worker, builtin_tasks, outbox_task


def _append(path: str, record: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _sent(path: str) -> dict[str, str]:
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return {r["key"]: r["id"] for r in map(json.loads, f)}


class FileSink(Channel):
    """A channel whose "platform" is a file: what is in the file was delivered."""

    name = "filesink"

    def send(self, message: OutboundMessage) -> SendResult:
        time.sleep(float(os.environ.get("SCRM_SEND_DELAY", "0")))
        external_id = f"sink-{message.idempotency_key}"
        _append(
            os.environ["SCRM_SINK"],
            {"key": message.idempotency_key, "id": external_id, "pid": os.getpid()},
        )
        return SendResult(external_id=external_id)

    def reconcile(self, message: OutboundMessage) -> SendResult | None:
        if os.environ.get("SCRM_BLIND"):
            raise NotImplementedError  # a platform with no way to look a message up
        found = _sent(os.environ["SCRM_SINK"]).get(message.idempotency_key)
        return SendResult(external_id=found) if found else None


class Plugin:
    @hookimpl
    def register_channels(self, register):
        register(FileSink)

    @hookimpl
    def sla_breached(self, case, clock, due_at):
        _append(
            os.environ["SCRM_HOOKLOG"],
            {"case": case.id, "clock": clock, "due": due_at.isoformat(), "pid": os.getpid()},
        )


class EventLog:
    """A consumer of the domain events that logs each one it handles to ``$SCRM_EVENTLOG``."""

    def _log(self, hook: str, key: Any) -> None:
        if os.environ.get("SCRM_EVENTLOG"):
            _append(os.environ["SCRM_EVENTLOG"], {"hook": hook, "key": key, "pid": os.getpid()})

    @hookimpl
    def interaction_stored(self, interaction):
        self._log("interaction_stored", interaction.id)

    @hookimpl
    def case_opened(self, case):
        self._log("case_opened", case.id)

    @hookimpl
    def batch_committed(self, interactions):
        self._log("batch_committed", [i.id for i in interactions])


class Die:
    """Kills its own process in ``batch_committed``: after the consumers ordered before it."""

    @hookimpl
    def batch_committed(self, interactions):
        os.kill(os.getpid(), signal.SIGKILL)


def open_app(url: str, *extra: object) -> Scrm:
    config = Config(database_url=url)
    plugins = [Plugin(), EventLog(), *extra]
    return Scrm(config, get_plugin_manager(load_entrypoints=False, extra=plugins))


def ingest_and_die(url: str, path: str, when: str) -> None:
    """Ingest ``path`` and die by SIGKILL right after the commit or during the dispatch."""
    if when == "after-commit":

        def die(self: Dispatcher, batch: Any) -> None:
            os.kill(os.getpid(), signal.SIGKILL)

        Dispatcher.dispatch = die  # type: ignore[method-assign]
    app = open_app(url, *([Die()] if when == "mid-dispatch" else []))
    with open(path, encoding="utf-8") as f:
        app.ingest_lines(f, source=path, fmt="interactions")


def main() -> None:
    command, url = sys.argv[1], sys.argv[2]
    if command == "ingest-and-die":
        ingest_and_die(url, sys.argv[3], sys.argv[4])
        return
    app = open_app(url)
    if command == "ingest":
        with open(sys.argv[3], encoding="utf-8") as f:
            print(json.dumps(app.ingest_lines(f, source=sys.argv[3], fmt="interactions").as_dict()))
        return
    outbox.LEASE = timedelta(seconds=float(os.environ.get("SCRM_LEASE", "2")))
    if command == "deliver":
        print(json.dumps(vars(outbox_service.deliver(app, limit=1000))))
        return
    tasks = {t.name: t for t in builtin_tasks()}
    sla, events = tasks["sla"], tasks["events"]
    sla.interval = 2.0
    # A worker killed between a sweep's commit and its dispatch leaves the batch recorded;
    # the events task of a surviving worker hands it out, as in a real deployment (after a
    # grace of seconds here, not the 30 s that leave a live process time to dispatch its own).
    events.interval = 1.0
    dispatch.GRACE = timedelta(seconds=3)
    stalled_after = float(os.environ.get("SCRM_STALLED_AFTER", "3"))
    worker = Worker(
        app,
        [outbox_task(batch=5), sla, events],
        Settings(
            concurrency=int(os.environ.get("SCRM_CONCURRENCY", "2")),
            heartbeat=stalled_after / 6,
            stalled_after=stalled_after,
            polling=0.5,
        ),
    )
    stop = threading.Event()
    threading.Timer(float(sys.argv[3]), stop.set).start()
    worker.run_forever(stop)


if __name__ == "__main__":
    # Run as the module ``workerproc``, not ``__main__``: a plugin is recorded as a consumer
    # under its class's module and name, which must match the test process's.
    import workerproc

    workerproc.main()
