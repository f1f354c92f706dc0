"""Time the 30-day metrics report over 1,000,000 interactions on SQLite and PostgreSQL.

    .venv/bin/python bench/report.py [--n 1000000] [--runs 5] [--sqlite PATH]
                                     [--postgres-url URL | env SCRM_BENCH_POSTGRES_URL]

Rows are written with bulk SQL (stdlib sqlite3 executemany; PostgreSQL COPY), not through
the pipeline: half as many cases as interactions' inbound share, spread over the last 365
days (channels, departments, priorities, categories, first responses, resolutions, SLA
breaches, promises, ratings, reopenings), plus unlinked noise.  Prints the build time, the
p50/min/max of ``--runs`` report runs (``scrm report`` for the last 30 days, by channel and
by department), and EXPLAIN of every statement the report sends.  The PostgreSQL database
is wiped (schema public dropped): never point it at data you keep; after the load it is
vacuumed (as autovacuum would be), so index-only scans apply.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from scrm.core import db
from scrm.core.metrics import build_report
from scrm.core.metrics.compute import Query
from scrm.core.models import Case, Customer, FollowUp, Interaction, SlaAlert

NOW = datetime(2025, 1, 1, tzinfo=UTC)
CHANNELS = [("twitter", 40), ("facebook", 20), ("email", 15), ("phone", 15), ("letter", 4), ("fax", 3), ("walk_in", 3)]  # fmt: skip
TRADITIONAL = frozenset({"email", "phone", "letter", "fax", "walk_in"})
CATEGORIES = ["billing", "service_outage", "delivery", "refund", "privacy", "product_defect", "staff_behaviour", "other"]  # fmt: skip
PRIORITIES = [("low", 20), ("normal", 60), ("high", 15), ("urgent", 5)]
KINDS = [("complaint", 60), ("question", 25), ("praise", 5), ("lead", 5), ("idea", 5)]
FR_DUE = {"low": 86400, "normal": 4 * 3600, "high": 3600, "urgent": 1800}
RES_DUE = {"low": 7 * 86400, "normal": 3 * 86400, "high": 86400, "urgent": 8 * 3600}


def _pick(rng: random.Random, table: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in table], [w for _, w in table])[0]


def _sentiment(score: float | None) -> str | None:
    if score is None:
        return None
    return "negative" if score < -0.2 else "positive" if score > 0.2 else "neutral"


def generate(n: int, departments: list[int], seed: int = 42) -> dict[str, list[dict[str, Any]]]:
    """Return rows per table: ~n interactions, n*0.45 cases, customers, promises, alerts."""
    rng = random.Random(seed)
    n_cases = int(n * 0.45)
    n_customers = max(1, n // 10)
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in ("customers", "cases", "interactions", "follow_ups", "sla_alerts")}  # fmt: skip
    rows["customers"] = [{"id": i} for i in range(1, n_customers + 1)]
    iid = 0

    def msg(
        case_id: int | None, channel: str, when: datetime, direction: str, public: bool
    ) -> None:
        nonlocal iid
        iid += 1
        score = round(rng.uniform(-1, 1), 2) if direction == "inbound" else None
        rows["interactions"].append(
            {
                "id": iid,
                "channel": channel,
                "external_id": f"x{iid}",
                "direction": direction,
                "public": public,
                "case_id": case_id,
                "customer_id": rng.randint(1, n_customers),
                "text": "bench",
                "created_at": when,
                "sentiment_score": score,
                "sentiment": _sentiment(score),
                # A call's wait before an agent answered, as the manual channel records it.
                "raw": {"wait_seconds": rng.randint(20, 900)}
                if channel == "phone" and direction == "inbound"
                else None,
            }
        )

    # Ids follow time, as they do when messages arrive: cases and messages of one period sit
    # together on disk.
    opened_times = sorted(
        NOW - timedelta(seconds=rng.randint(60, 365 * 86400)) for _ in range(n_cases)
    )
    for cid, opened in enumerate(opened_times, start=1):
        channel = _pick(rng, CHANNELS)
        social = channel not in TRADITIONAL
        prio = _pick(rng, PRIORITIES)
        fr_due = opened + timedelta(seconds=FR_DUE[prio])
        res_due = opened + timedelta(seconds=RES_DUE[prio])
        # Old cases are almost all answered and resolved; recent ones still in progress.
        recent = opened > NOW - timedelta(days=30)
        responded = rng.random() < (0.85 if recent else 0.995)
        fr = opened + timedelta(seconds=int(rng.expovariate(1 / (1800 if social else 14400)))) if responded else None  # fmt: skip
        resolved = opened + timedelta(seconds=int(rng.expovariate(1 / 172800))) if responded and rng.random() < (0.7 if recent else 0.99) else None  # fmt: skip
        if resolved is not None and resolved > NOW:
            resolved = None
        if fr is not None and fr > NOW:
            fr, resolved = None, None
        asked = resolved is not None and rng.random() < 0.6
        rated = asked and rng.random() < 0.5
        rows["cases"].append(
            {
                "id": cid,
                "customer_id": rng.randint(1, n_customers),
                "department_id": rng.choice(departments),
                "channel": channel,
                "kind": _pick(rng, KINDS),
                "category": rng.choice(CATEGORIES),
                "priority": prio,
                "status": "resolved" if resolved else "investigating" if fr else "new",
                "language": rng.choice(["tr", "en"]),
                "opened_at": opened,
                "last_activity_at": resolved or fr or opened,
                "first_response_at": fr,
                "resolved_at": resolved,
                "first_response_due": fr_due,
                "resolution_due": res_due,
                "reopen_count": 1 if resolved and rng.random() < 0.08 else 0,
                "csat_requested_at": resolved if asked else None,
                "csat_score": rng.randint(1, 5) if rated else None,
                "csat_at": resolved if rated else None,
            }
        )
        msg(cid, channel, opened, "inbound", social)
        if fr is not None:
            msg(cid, channel, fr, "outbound", social and rng.random() < 0.7)
        if (fr is None and fr_due < NOW) or (fr is not None and fr > fr_due):
            rows["sla_alerts"].append({"case_id": cid, "clock": "first_response", "due_at": fr_due, "kind": "breach", "fired_at": fr_due})  # fmt: skip
        if rng.random() < 0.1:
            due = opened + timedelta(hours=24)
            status = "open" if due > NOW else rng.choice(["kept", "kept", "kept", "broken"])
            rows["follow_ups"].append({"case_id": cid, "kind": "dm", "due_at": due, "status": status, "actor": "bench", "created_at": opened})  # fmt: skip
    while iid < n:
        msg(None, _pick(rng, CHANNELS), NOW - timedelta(seconds=rng.randint(60, 365 * 86400)), "inbound", True)  # fmt: skip
    rows["interactions"].sort(key=lambda r: r["created_at"])
    for i, r in enumerate(rows["interactions"], start=1):
        r["id"] = i
        r["external_id"] = f"x{i}"
    return rows


def _fill(table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    """Give every NOT NULL column the generator did not set its model default; a column the
    database fills itself (a server default, such as ``brand_id``) is left out for it to."""
    out = dict(row)
    for col in table.columns:
        if col.name in out or col.nullable or col.primary_key or col.server_default is not None:
            continue
        default = col.default
        if default is not None and getattr(default, "is_scalar", False):
            out[col.name] = default.arg  # type: ignore[attr-defined]
        elif default is not None and callable(getattr(default, "arg", None)):
            out[col.name] = default.arg(None)  # type: ignore[attr-defined]
        else:
            out[col.name] = NOW
    for col in table.columns:  # columns the generator leaves out and that may be NULL
        if not col.primary_key and col.server_default is None:
            out.setdefault(col.name, None)
    return out


def _sqlite_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, dict | list):
        return json.dumps(v)
    return v


def load_sqlite(path: Path, n: int) -> None:
    if path.exists():
        path.unlink()
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    with engine.connect() as c:
        deps = list(c.scalars(sa.text("SELECT id FROM departments"))) or [None]
    engine.dispose()
    rows = generate(n, deps)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    for model in (Customer, Case, Interaction, FollowUp, SlaAlert):
        table: sa.Table = model.__table__  # type: ignore[assignment]
        data = rows[table.name]
        if not data:
            continue
        cols = list(_fill(table, data[0]))
        sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        con.executemany(sql, ([_sqlite_value(v) for v in _fill(table, r).values()] for r in data))
    con.commit()
    con.execute("ANALYZE")
    con.close()


def load_postgres(url: str, n: int) -> None:
    engine = db.make_engine(url)
    with engine.begin() as c:
        c.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        c.exec_driver_sql("CREATE SCHEMA public")
    db.upgrade(engine)
    with engine.connect() as c:
        deps = list(c.scalars(sa.text("SELECT id FROM departments"))) or [None]
    rows = generate(n, deps)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for model in (Customer, Case, Interaction, FollowUp, SlaAlert):
            table: sa.Table = model.__table__  # type: ignore[assignment]
            data = rows[table.name]
            if not data:
                continue
            cols = list(_fill(table, data[0]))
            with cur.copy(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for r in data:
                    full = _fill(table, r).values()
                    copy.write_row(
                        [json.dumps(v) if isinstance(v, dict | list) else v for v in full]
                    )
            if "id" in cols:
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT max(id) FROM {table.name}))")  # fmt: skip
        raw.commit()
        # VACUUM as autovacuum would after the load: the visibility map lets the report's
        # covering indexes answer without visiting the table (index-only scans).
        raw.driver_connection.autocommit = True  # type: ignore[union-attr]
        cur.execute("VACUUM ANALYZE")
    finally:
        raw.close()
    engine.dispose()


def _query(by: str) -> Query:
    return Query(start=NOW - timedelta(days=30), end=NOW, now=NOW, by=by, timezone="Europe/Istanbul", traditional=TRADITIONAL)  # fmt: skip


def time_report(url: str, runs: int, label: str) -> None:
    engine = db.make_engine(url)
    Session = db.make_sessionmaker(engine)
    for by in ("channel", "department"):
        times = []
        for _ in range(runs):
            with Session() as s:
                t0 = time.perf_counter()
                rep = build_report(s, _query(by))
                times.append((time.perf_counter() - t0) * 1000)
                s.rollback()
        print(
            f"{label}: 30-day report by {by}: p50 {statistics.median(times):.0f} ms "
            f"(min {min(times):.0f}, max {max(times):.0f}, {runs} runs); "
            f"{rep.total.volume_in} messages in, {rep.total.cases_opened} cases in the period"
        )
    explain(engine, label)
    engine.dispose()


def explain(engine: sa.Engine, label: str) -> None:
    """Print the plan of every statement one report sends."""
    seen: list[tuple[str, Any]] = []

    def capture(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    with db.make_sessionmaker(engine)() as s:
        build_report(s, _query("channel"))
        s.rollback()
    event.remove(engine, "before_cursor_execute", capture)
    pg = engine.dialect.name == "postgresql"
    with engine.connect() as c:
        for i, (sql, params) in enumerate(seen, 1):
            prefix = "EXPLAIN " if pg else "EXPLAIN QUERY PLAN "
            rows = c.exec_driver_sql(prefix + sql, params).all()
            print(f"\n--- {label} statement {i}: {' '.join(sql.split())[:110]}...")
            for r in rows:
                print("   ", r[-1] if not pg else r[0])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=1_000_000, help="interactions to create")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sqlite", type=Path, default=Path("/tmp/scrm-bench-report.db"))
    ap.add_argument("--postgres-url", default=os.environ.get("SCRM_BENCH_POSTGRES_URL"))
    ap.add_argument(
        "--skip-load", action="store_true", help="reuse the databases of a previous run"
    )
    args = ap.parse_args()
    if not args.skip_load:
        t0 = time.perf_counter()
        load_sqlite(args.sqlite, args.n)
        print(
            f"SQLite: built {args.n} interactions in {time.perf_counter() - t0:.1f} s ({args.sqlite})"
        )
    time_report(f"sqlite:///{args.sqlite}", args.runs, "SQLite")
    if args.postgres_url:
        if not args.skip_load:
            t0 = time.perf_counter()
            load_postgres(args.postgres_url, args.n)
            print(f"PostgreSQL: built {args.n} interactions in {time.perf_counter() - t0:.1f} s")
        time_report(args.postgres_url, args.runs, "PostgreSQL")
    else:
        print("PostgreSQL skipped: give --postgres-url or SCRM_BENCH_POSTGRES_URL", file=sys.stderr)


if __name__ == "__main__":
    main()
