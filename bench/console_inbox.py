"""Time the console's inbox over 100,000 open cases on SQLite (and PostgreSQL when given).

    .venv/bin/python bench/console_inbox.py [--n 100000] [--sqlite PATH]
                                            [--postgres-url URL | env SCRM_TEST_POSTGRES_URL]

The cases are those of bench/sla.py (bulk SQL: every case open and overdue, spread over the
departments).  For each view, as an admin (every case) and as an agent of one department:
the worklist query (one page, ``worklists.PAGE_SIZE`` rows), the counts of all six views (one
query), and a whole ``GET /app/inbox`` answered in process (the server's time: queries and
rendering, no network), median of ``--runs``, as wall-clock time and as the CPU time of this
process (on SQLite that is all of the server's work; on PostgreSQL the database server's own
CPU is not in it).  Then, as the admin, a page deep in the list (after the 50,000th case),
which costs what the first does.  Baseline: ``SELECT count(*)`` of the open cases, the
database's own floor for looking at every open case once; ratios are the page's wall time
to it.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from sla import OPEN, load_postgres, load_sqlite

import scrm
from scrm.core import worklists
from scrm.core.apikeys import create_key
from scrm.server import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def _median(fn: Any, runs: int) -> float:
    return _timed(fn, runs)[0]


def _timed(fn: Any, runs: int) -> tuple[float, float]:
    """Median wall-clock and median process CPU seconds of ``fn`` over ``runs`` calls."""
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def _client(app: scrm.Scrm, role: str, departments: list[str]) -> TestClient:
    with app.session() as s:
        _, token = create_key(s, name=f"bench-{role}", role=role, actor="bench",
                              departments=departments)  # fmt: skip
    c = TestClient(create_app(app, background=False))
    page = c.get("/app/signin").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    r = c.post("/app/signin", data={"key": token, "csrf": csrf.group(1)})
    assert r.url.path == "/app/inbox", r.status_code
    return c


def bench(url: str, label: str, n: int, runs: int) -> None:
    app = scrm.open(url)
    try:
        with app.engine.connect() as c:
            floor = _median(
                lambda: c.exec_driver_sql(f"SELECT count(*) FROM cases WHERE status IN {OPEN}").scalar(),
                runs,
            )  # fmt: skip
        print(f"{label}: {n:,} open cases; baseline SELECT count(*) of them {floor * 1000:.1f} ms")
        print(f"  (a page: {worklists.PAGE_SIZE} rows; ms: median wall-clock, CPU of this process)")
        for who, scope in (("admin", None), ("agent", ["support"])):
            client = _client(app, who, scope or [])
            for view in ("department", "breaching", "unassigned", "triage"):
                with app.session(read_only=True) as s:
                    rows = _median(lambda v=view, d=scope: worklists.page(s, v, departments=d), runs)  # fmt: skip
                    counts = _median(lambda d=scope: worklists.counts(s, departments=d), runs)
                page, cpu = _timed(lambda v=view, c=client: c.get(f"/app/inbox?view={v}"), runs)
                print(
                    f"  {who:5} {view:10}: worklist {rows * 1000:5.1f}, counts {counts * 1000:5.1f},"
                    f" GET /app/inbox {page * 1000:6.1f} (CPU {cpu * 1000:5.1f})"
                    f" = {page / floor:4.1f}x the baseline"
                )
            if who == "admin":
                with app.session(read_only=True) as s:
                    deep = worklists.worklist(s, "department", limit=n // 2)[-1].position.token()
                page, cpu = _timed(lambda c=client, d=deep: c.get(f"/app/inbox?view=department&after={d}"), runs)  # fmt: skip
                print(
                    f"  admin department after case {n // 2:,}: GET /app/inbox {page * 1000:6.1f}"
                    f" (CPU {cpu * 1000:5.1f}) = {page / floor:4.1f}x the baseline"
                )
    finally:
        app.close()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=100_000, help="open cases to create")
    ap.add_argument("--runs", type=int, default=5, help="timings per figure (median)")
    ap.add_argument("--sqlite", type=Path, default=Path("/tmp/scrm-bench-console.db"))
    ap.add_argument("--postgres-url", default=os.environ.get("SCRM_TEST_POSTGRES_URL"))
    args = ap.parse_args()
    bench(load_sqlite(args.sqlite, args.n), "SQLite", args.n, args.runs)
    if args.postgres_url:
        bench(load_postgres(args.postgres_url, args.n), "PostgreSQL", args.n, args.runs)
    else:
        print("PostgreSQL skipped: give --postgres-url or SCRM_TEST_POSTGRES_URL", file=sys.stderr)


if __name__ == "__main__":
    main()
