"""What recognising erased messages costs a webhook delivery (``scrm.core.inbox.store``).

Stores the same ``N`` Facebook deliveries (5 Messenger messages each) into two fresh
databases: one where nothing was ever erased (the check is one query for the salt), and one
after an erasure (every delivery is parsed and its message ids looked up as tombstones).
Prints the time per delivery in each and their ratio, measured in the same run.

Run: ``.venv/bin/python bench/inbox_erasure.py [N] [DATABASE_URL_TEMPLATE]``; the template
(e.g. ``postgresql://scrm@127.0.0.1:25437/{name}``) must name databases that exist
(``bench_a``, ``bench_b``); the default is two SQLite files in a temporary directory.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scrm.core import inbox  # noqa: E402
from scrm.core.app import Scrm  # noqa: E402
from scrm.core.config import Config  # noqa: E402
from scrm.core.plugins import get_plugin_manager  # noqa: E402
from scrm.core.privacy import erase_customer  # noqa: E402

PAGE = "1000111"


def body(n: int, psid: str = "psid") -> bytes:
    events = [
        {
            "sender": {"id": f"{psid}-{n}"},
            "recipient": {"id": PAGE},
            "timestamp": 1520544815000 + k,
            "message": {"mid": f"m.{n}.{k}", "text": f"Kargom nerede? {n}-{k}"},
        }
        for k in range(5)
    ]
    payload = {"object": "page", "entry": [{"id": PAGE, "time": 1, "messaging": events}]}
    return json.dumps(payload).encode()


def open_app(url: str) -> Scrm:
    config = Config(database_url=url, channels={"facebook": {"page_id": PAGE}})
    app = Scrm(config, get_plugin_manager())
    app.upgrade()
    return app


def timed_store(app: Scrm, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        inbox.store(app, "facebook", body(i))
    return (time.perf_counter() - start) / n


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    template = sys.argv[2] if len(sys.argv) > 2 else None
    tmp = tempfile.mkdtemp()
    url = template or f"sqlite:///{tmp}/{{name}}.db"
    plain, erased = open_app(url.format(name="bench_a")), open_app(url.format(name="bench_b"))
    # Database b: 50 customers' messages stored, one customer erased.
    erased.ingest_native("facebook", [json.loads(body(i, "old")) for i in range(50)])
    with erased.session() as s:
        erase_customer(s, erased.interactions(limit=1)[0].customer_id, "bench", erased.hooks)
    a = timed_store(plain, n)
    b = timed_store(erased, n)
    print(f"{n} deliveries of 5 messages, {url.split(':', 1)[0]}")
    print(f"  nothing ever erased: {a * 1000:.2f} ms per delivery")
    print(f"  after an erasure:    {b * 1000:.2f} ms per delivery")
    print(f"  ratio: {b / a:.2f}")


if __name__ == "__main__":
    main()
