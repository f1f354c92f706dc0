"""Time the SLA sweep over 100,000 overdue cases on SQLite (and PostgreSQL when given).

    .venv/bin/python bench/sla.py [--n 100000] [--sqlite PATH]
                                  [--postgres-url URL | env SCRM_TEST_POSTGRES_URL]

Cases are written with bulk SQL (stdlib sqlite3 executemany; PostgreSQL COPY), not through
the pipeline: every case open, its first response and resolution deadlines long past, one in
ten with a broken promise too, spread over the departments.  Then, through the Python API
(``Workflow.check_sla``, after-commit hooks included, built-in plugins loaded):

- **first sweep**: every case owes a breach and the three default ladder steps per clock;
  baseline: one ``INSERT ... SELECT`` writing as many rows into a copy of ``sla_alerts``
  (with its unique key), the database's own floor for writing the alerts alone;
- **second sweep**: nothing is owed; baseline: ``SELECT count(*)`` of the overdue cases.

On PostgreSQL it works in a database of its own, ``scrm_test_bench_sla``, on the server the
URL names (created if missing, wiped at each run).
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from report import _fill, _sqlite_value

import scrm
from scrm.core import db
from scrm.core.models import Case, Customer, FollowUp
from scrm.core.services import sla as sla_service

NOW = datetime(2025, 1, 1, tzinfo=UTC)
OPENED = NOW - timedelta(days=30)
OPEN = "('new', 'acknowledged', 'contacted', 'investigating', 'solution_proposed', 'reopened')"


def generate(n: int, departments: list[int], seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    """Rows per table: ``n`` overdue open cases, a customer each, a broken promise on 10%."""
    rng = random.Random(seed)
    rows: dict[str, list[dict[str, Any]]] = {"customers": [], "cases": [], "follow_ups": []}
    for i in range(1, n + 1):
        opened = OPENED - timedelta(minutes=rng.randrange(60 * 24 * 300))
        fr, res = opened + timedelta(hours=4), opened + timedelta(days=3)
        promise = opened + timedelta(days=1) if i % 10 == 0 else None
        rows["customers"].append({"id": i})
        rows["cases"].append(
            {
                "id": i,
                "customer_id": i,
                "department_id": rng.choice(departments),
                "channel": rng.choice(["twitter", "facebook", "email", "phone"]),
                "kind": "complaint",
                "category": "delivery",
                "priority": rng.choice(["low", "normal", "normal", "high"]),
                "status": rng.choice(["new", "acknowledged", "investigating"]),
                "opened_at": opened,
                "last_activity_at": opened,
                "first_response_due": fr,
                "follow_up_due": promise,
                "resolution_due": res,
                "next_due": min(d for d in (fr, res, promise) if d is not None),
            }
        )
        if promise is not None:
            rows["follow_ups"].append(
                {
                    "id": i // 10,
                    "case_id": i,
                    "kind": "callback",
                    "due_at": promise,
                    "status": "open",
                    "actor": "bench",
                    "created_at": opened,
                }
            )
    return rows


MODELS = (Customer, Case, FollowUp)


def _table(model: Any) -> sa.Table:
    table: sa.Table = model.__table__
    return table


def _departments(url: str) -> list[int]:
    """Migrate the database and seed the departments, as ``scrm db upgrade`` does; their ids."""
    app = scrm.open(url, migrate=True)
    try:
        with app.engine.connect() as c:
            return list(c.scalars(sa.text("SELECT id FROM departments")))
    finally:
        app.close()


def load_sqlite(path: Path, n: int) -> str:
    if path.exists():
        path.unlink()
    url = f"sqlite:///{path}"
    rows = generate(n, _departments(url))
    con = sqlite3.connect(path)
    for model in MODELS:
        table = _table(model)
        data = rows[table.name]
        cols = list(_fill(table, data[0]))
        sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        con.executemany(sql, ([_sqlite_value(v) for v in _fill(table, r).values()] for r in data))
    con.commit()
    con.execute("ANALYZE")
    con.close()
    return url


def bench_database(url: str) -> str:
    """A database of its own on the server ``url`` names (created if missing), for the bench."""
    target = sa.engine.make_url(db.normalize_url(url)).set(database="scrm_test_bench_sla")
    engine = db.make_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        if not c.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = 'scrm_test_bench_sla'")):
            c.exec_driver_sql("CREATE DATABASE scrm_test_bench_sla")
    engine.dispose()
    return target.render_as_string(hide_password=False)


def load_postgres(url: str, n: int) -> str:
    url = bench_database(url)
    engine = db.make_engine(url)
    with engine.begin() as c:
        c.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        c.exec_driver_sql("CREATE SCHEMA public")
    rows = generate(n, _departments(url))
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for model in MODELS:
            table = _table(model)
            data = rows[table.name]
            cols = list(_fill(table, data[0]))
            with cur.copy(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for r in data:
                    copy.write_row(
                        [v if not isinstance(v, dict) else "{}" for v in _fill(table, r).values()]
                    )
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT max(id) FROM {table.name}))")  # fmt: skip
        raw.commit()
        raw.driver_connection.autocommit = True  # type: ignore[union-attr]
        cur.execute("VACUUM ANALYZE")
    finally:
        raw.close()
    engine.dispose()
    return url


def _timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def baseline_insert(engine: sa.Engine, rows_per_case: int) -> float:
    """One INSERT ... SELECT of ``rows_per_case`` alert rows per overdue case into a scratch copy."""
    levels = " UNION ALL ".join(f"SELECT {i} AS level" for i in range(rows_per_case))
    with engine.begin() as c:
        c.exec_driver_sql("DROP TABLE IF EXISTS bench_alerts")
        c.exec_driver_sql(
            "CREATE TABLE bench_alerts (id INTEGER, case_id INTEGER NOT NULL, clock VARCHAR(16),"
            " round INTEGER, due_at TIMESTAMP, kind VARCHAR(16), level INTEGER, fired_at TIMESTAMP,"
            " UNIQUE (case_id, clock, round, kind, level))"
        )
    with engine.begin() as c:
        seconds, _ = _timed(
            lambda: c.exec_driver_sql(
                "INSERT INTO bench_alerts (id, case_id, clock, round, due_at, kind, level, fired_at)"
                f" SELECT cases.id * 100 + l.level, cases.id, 'resolution', 0, cases.next_due,"
                f" 'escalation', l.level, cases.next_due FROM cases CROSS JOIN ({levels}) l"
                f" WHERE cases.status IN {OPEN} AND cases.next_due <= '2025-01-01'"
            )
        )
    with engine.begin() as c:
        c.exec_driver_sql("DROP TABLE bench_alerts")
    return seconds


def baseline_count(engine: sa.Engine) -> float:
    with engine.connect() as c:
        seconds, _ = _timed(
            lambda: c.exec_driver_sql(
                f"SELECT count(*) FROM cases WHERE status IN {OPEN} AND next_due <= '2025-01-01'"
            ).scalar()
        )
    return seconds


def bench(url: str, label: str, n: int) -> None:
    app = scrm.open(url)
    try:
        first, alerts = _timed(lambda: sla_service.check(app, now=NOW))
        again, none = _timed(lambda: sla_service.check(app, now=NOW))
        per_case = len(alerts) / n
        insert = baseline_insert(app.engine, round(per_case))
        count = baseline_count(app.engine)
        with app.engine.connect() as c:
            events = c.exec_driver_sql("SELECT count(*) FROM case_events").scalar()
    finally:
        app.close()
    print(f"{label}: {n:,} overdue cases")
    print(
        f"  first sweep:  {first:6.2f} s, {len(alerts):,} alerts ({per_case:.1f} a case), {events:,} events;"
        f" baseline INSERT ... SELECT of {round(per_case) * n:,} rows {insert:.2f} s; ratio {first / insert:.1f}x"
    )
    print(
        f"  second sweep: {again:6.2f} s, {len(none)} alerts;"
        f" baseline SELECT count(*) {count * 1000:.1f} ms; ratio {again / count:.0f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=100_000, help="overdue cases to create")
    ap.add_argument("--sqlite", type=Path, default=Path("/tmp/scrm-bench-sla.db"))
    ap.add_argument("--postgres-url", default=os.environ.get("SCRM_TEST_POSTGRES_URL"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    url = load_sqlite(args.sqlite, args.n)
    print(f"SQLite: built in {time.perf_counter() - t0:.1f} s ({args.sqlite})")
    bench(url, "SQLite", args.n)
    if args.postgres_url:
        t0 = time.perf_counter()
        pg = load_postgres(args.postgres_url, args.n)
        print(
            f"PostgreSQL: built in {time.perf_counter() - t0:.1f} s (database {pg.rsplit('/', 1)[1]})"
        )
        bench(pg, "PostgreSQL", args.n)
    else:
        print("PostgreSQL skipped: give --postgres-url or SCRM_TEST_POSTGRES_URL", file=sys.stderr)


if __name__ == "__main__":
    main()
