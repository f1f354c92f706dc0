"""Real support threads in every order: are the cases right, and what does order cost?

Ingests all of IBM's public Twitter customer-care conversations (``../shared/data/
ibm_twitter_customer_care``, read through ``tests/threadkit.py``) as X API v2 pages into a
fresh SQLite database (or ``--pg URL``), once per order and batching, and prints per run:

- how many threads have all the customer's messages on one case, how many brand replies
  are on that case, how many first-response times equal the thread's own (to the second),
  how many answered cases moved past ``new``, and how many durations are negative;
- ingest time as a ratio to the oldest-first run of the same run of this script (the
  baseline), so a noisy machine does not matter.

    .venv/bin/python bench/threads.py
    .venv/bin/python bench/threads.py --pg postgresql://scrm@127.0.0.1:54330/scrm_test_bench
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import threadkit as tk

from scrm.core.app import Scrm
from scrm.core.config import Config
from scrm.core.models import Case, Interaction
from scrm.core.plugins import get_plugin_manager
from scrm.testing import _truncate_postgres

RUNS = [  # order, page size, pages per ingest call, messages per transaction
    ("oldest", 100, 1000, 1000),
    ("newest", 100, 1000, 1000),
    ("newest", 20, 1, 50),
    ("shuffled", 100, 1000, 1000),
    ("shuffled", 10, 3, 7),
]


def open_app(url: str | None, brands: list[str], batch: int) -> Scrm:
    if url is None:
        url = f"sqlite:///{tempfile.mkdtemp()}/threads.db"
    else:
        _truncate_postgres(url)
    config = Config(
        database_url=url,
        batch_size=batch,
        channels={"twitter": {"brand_user_id": brands[0], "other_brand_user_ids": brands[1:]}},
    )
    app = Scrm(config, get_plugin_manager())
    app.upgrade()
    return app


def utc(at):  # type: ignore[no-untyped-def]
    return None if at is None else at if at.tzinfo else at.replace(tzinfo=UTC)


def measure(app: Scrm, threads: list[tk.Thread]) -> dict[str, int]:
    with app.session() as s:
        case_of = dict(s.execute(sa.select(Interaction.external_id, Interaction.case_id)).all())
        cases = {c.id: c for c in s.scalars(sa.select(Case))}
    out = dict(threads=0, replies=0, replies_ok=0, first_response_ok=0, past_new=0, negative=0)
    for th in threads:
        want = tk.expected(th)
        ids = {case_of.get(t) for t in want.customer_tweets}
        if len(ids) != 1 or None in ids:
            continue
        out["threads"] += 1
        case = cases[ids.pop()]
        for t in th.turns:
            if t.brand and t.at >= want.opened_at:
                out["replies"] += 1
                out["replies_ok"] += case_of.get(t.tweet_id) == case.id
        same_open = utc(case.opened_at) == want.opened_at
        out["first_response_ok"] += same_open and utc(case.first_response_at) == want.first_response_at
        out["past_new"] += want.first_response_at is not None and case.status != "new"
    out["negative"] = sum(
        1 for c in cases.values() if c.first_response_at and c.first_response_at < c.opened_at
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", help="a throw-away PostgreSQL database URL")
    args = parser.parse_args()
    threads = tk.load()
    brands = tk.brand_ids(threads)
    tweets = sum(len(th.turns) for th in threads)
    print(f"{len(threads)} threads, {tweets} tweets, {'PostgreSQL' if args.pg else 'SQLite'}")
    baseline = None
    for order, page, per_run, batch in RUNS:
        app = open_app(args.pg, brands, batch)
        pages = list(tk.pages(threads, order=order, page_size=page))
        start = time.perf_counter()
        for at in range(0, len(pages), per_run):
            app.ingest_native("twitter", pages[at : at + per_run])
        took = time.perf_counter() - start
        baseline = baseline or took
        m = measure(app, threads)
        app.close()
        print(
            f"{order:>8} page {page:>3} x{per_run:<4} batch {batch:>4}: "
            f"threads {m['threads']}/{len(threads)}, replies {m['replies_ok']}/{m['replies']}, "
            f"first response {m['first_response_ok']}, answered past new {m['past_new']}, "
            f"negative {m['negative']}; time x{took / baseline:.2f} of oldest-first "
            f"({tweets / took:,.0f} tweets/s)"
        )


if __name__ == "__main__":
    main()
