"""Outbox delivery throughput with 1 and 2 worker processes on one PostgreSQL, in one run.

    .venv/bin/python bench/workers.py --pg postgresql://scrm@127.0.0.1:54330/scrm_test_bench \\
        [--replies 2000] [--send-ms 5] [--concurrency 4]

Each run resets the database (schema public is dropped: point it at a throw-away database),
ingests one complaint per reply, queues the replies, then starts N ``scrm worker``-style
processes (tests/workerproc.py: scrm's engine on procrastinate, the outbox task with claims
of 5, ``--concurrency`` jobs at once per process, a channel that appends each delivery to a
file after ``--send-ms`` of simulated API latency) and times until every reply is sent.  Prints replies/s per worker count, the speed-up, and checks that no reply was sent
twice.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from workerproc import open_app  # noqa: E402

from scrm.core import db  # noqa: E402
from scrm.core.models import OutboxMessage  # noqa: E402
from scrm.core.services import outbox as outbox_service  # noqa: E402


def reset(url: str) -> None:
    if "bench" not in url and "test" not in url:
        raise SystemExit(f"refusing to wipe {url}: its name must contain 'bench' or 'test'")
    engine = db.make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    db.upgrade(engine)
    engine.dispose()


def prepare(url: str, replies: int) -> None:
    app = open_app(url)
    app.upgrade()
    now = datetime.now(UTC)
    app.ingest(
        [
            {
                "channel": "filesink",
                "external_id": f"m{i}",
                "text": "internetim yok",
                "public": True,
                "created_at": (now - timedelta(seconds=replies - i)).isoformat(),
                "thread_key": f"t{i}",
                "author": {"external_id": f"u{i}"},
            }
            for i in range(replies)
        ]
    )
    for case in app.cases(limit=replies + 10):
        outbox_service.reply(app, case.id, actor="bench", text="Merhaba, bakıyoruz")
    app.close()


def run(
    url: str, workers: int, replies: int, send_ms: float, concurrency: int
) -> tuple[float, Counter[str]]:
    reset(url)
    prepare(url, replies)
    sink = Path(tempfile.mkdtemp()) / "sink.jsonl"
    env = {
        **os.environ,
        "SCRM_SINK": str(sink),
        "SCRM_HOOKLOG": str(sink.with_suffix(".hooks")),
        "SCRM_SEND_DELAY": str(send_ms / 1000),
        "SCRM_CONCURRENCY": str(concurrency),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)]),
    }
    engine = db.make_engine(url)
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "workerproc.py"), "work", url, "600"],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        while True:
            with engine.connect() as conn:
                left = conn.scalar(
                    sa.select(sa.func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.status != "sent")
                )
            if not left:
                break
            time.sleep(0.1)
        elapsed = time.perf_counter() - start
    finally:
        for p in procs:
            p.kill()
            p.wait()
        engine.dispose()
    sent = Counter(json.loads(line)["key"] for line in sink.read_text().splitlines())
    return elapsed, sent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pg", required=True, help="a throw-away PostgreSQL database URL")
    parser.add_argument("--replies", type=int, default=2000)
    parser.add_argument(
        "--send-ms", type=float, default=5.0, help="simulated channel latency per reply"
    )
    parser.add_argument(
        "--concurrency", type=int, default=4, help="jobs at once per worker (scrm worker's default)"
    )
    args = parser.parse_args()
    print(
        f"{args.replies} replies, {args.send_ms:g} ms per send, concurrency {args.concurrency} "
        f"per worker, PostgreSQL {args.pg.rsplit('@', 1)[-1]}"
    )
    rates = {}
    for n in (1, 2):
        elapsed, sent = run(args.pg, n, args.replies, args.send_ms, args.concurrency)
        twice = sum(1 for c in sent.values() if c > 1)
        rates[n] = args.replies / elapsed
        print(
            f"  {n} worker{'s' if n > 1 else ' '}: {elapsed:6.1f} s  {rates[n]:7.1f} replies/s  "
            f"sent {len(sent)}, sent twice {twice}"
        )
    print(f"  speed-up with 2 workers: {rates[2] / rates[1]:.2f}x (2 cores)")


if __name__ == "__main__":
    main()
