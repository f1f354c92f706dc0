"""A worker process for the multi-process tests: a file-backed channel and a hook log.

Run as ``python workerproc.py ingest URL FILE``, ``python workerproc.py work URL SECONDS`` or
``python workerproc.py deliver URL`` (one ``scrm outbox deliver`` round, any database).
Every send is appended to ``$SCRM_SINK`` (one JSON line per message actually sent, written
before ``send`` returns); every ``sla_breached`` call to ``$SCRM_HOOKLOG``.  Deliveries are
slow (``$SCRM_SEND_DELAY`` seconds) so that a test can kill a worker mid-delivery.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from datetime import timedelta
from typing import Any

from scrm import hookimpl
from scrm.core import outbox
from scrm.core.app import Scrm
from scrm.core.channel import Channel
from scrm.core.config import Config
from scrm.core.plugins import get_plugin_manager
from scrm.core.schemas import OutboundMessage, SendResult
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


def open_app(url: str) -> Scrm:
    config = Config(database_url=url)
    return Scrm(config, get_plugin_manager(config, load_entrypoints=False, extra=[Plugin()]))


def main() -> None:
    command, url = sys.argv[1], sys.argv[2]
    app = open_app(url)
    if command == "ingest":
        with open(sys.argv[3], encoding="utf-8") as f:
            print(json.dumps(app.ingest_lines(f, source=sys.argv[3], fmt="interactions").as_dict()))
        return
    outbox.LEASE = timedelta(seconds=float(os.environ.get("SCRM_LEASE", "2")))
    if command == "deliver":
        print(json.dumps(vars(app.workflow.deliver(limit=1000))))
        return
    sla = next(t for t in builtin_tasks() if t.name == "sla")
    sla.interval = 2.0
    stalled_after = float(os.environ.get("SCRM_STALLED_AFTER", "3"))
    worker = Worker(
        app,
        [outbox_task(batch=5), sla],
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
    main()
