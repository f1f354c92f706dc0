"""Ingest benchmark: scrm's end-to-end ingest against the database's own ceiling, in one run.

Generates realistic inbound interactions (Turkish and English complaints, questions and
praise with variation; repeat customers drawn from a Zipf-like long tail; threads with
follow-ups and brand replies; about 60% complaints) as interchange JSONL into a temporary
file, streaming, and measures on SQLite (and on PostgreSQL with ``--pg``):

(a) the ceiling: stdlib ``sqlite3`` executemany of the same interaction rows into a table
    with the same unique (channel, external_id) index, one transaction, WAL mode; on
    PostgreSQL, psycopg ``COPY`` of the same rows into such a table;
(b) scrm's end-to-end ingest through the Python API
    (``scrm.open(url, migrate=True).ingest_lines(...)``);
(c) the same through ``scrm ingest --format interactions FILE`` (a subprocess, timed, with
    its peak RSS), plus its peak RSS on a smaller prefix of the file to show memory is flat;

then, on the database (c) produced, after growing its cases table to ``--query-cases`` by
copying rows, the latency (p50/p99) of issue 12's queries — "open cases breaching within
the next hour, oldest first, first 50", "a customer's timeline", "cases of a department by
status" — both as the single SQL statement scrm issues and as the whole API call, with the
database's EXPLAIN output.  ``--candidates`` also measures indexes scrm does not have
(created in the benchmark's own database only) to show what would close a gap.

Run::

    .venv/bin/python bench/ingest.py                       # 100k rows, SQLite only
    .venv/bin/python bench/ingest.py --n 1000000
    .venv/bin/python bench/ingest.py --pg postgresql://scrm@127.0.0.1:54330/scrm_test_bench

``--pg`` DROPS AND RECREATES the schema ``public`` of the database it names: use a
throw-away database only (its name must contain "bench" or "test").  ``--keep DIR`` keeps
the generated JSONL and SQLite databases in DIR (e.g. for profiling
``scrm ingest`` on them with pyinstrument).
"""

from __future__ import annotations

import argparse
import bisect
import importlib.util
import itertools
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if importlib.util.find_spec("scrm") is None:  # not installed: use this checkout
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

import scrm  # noqa: E402
from scrm.core.config import Config  # noqa: E402
from scrm.core.models import OPEN_STATUSES  # noqa: E402

SCRM_BIN = Path(sys.executable).with_name("scrm")
TARGET_RATIO = 0.25
CHUNK = 20_000  # rows decoded per executemany/COPY call of the ceiling

# --------------------------------------------------------------------------- texts

TR_COMPLAINT = [
    "{order} numaralı siparişim {days} gündür gelmedi, kargo takip de güncellenmiyor",
    "faturama yine {amount} TL fazladan ücret yansımış, kimse açıklama yapmıyor",
    "internetim {days} gündür çalışmıyor, müşteri hizmetlerine ulaşamıyorum",
    "aldığım ürün kırık geldi, iade talebim {days} gündür bekliyor",
    "çağrı merkezinde {minutes} dakika beklettiniz ve telefon kapandı, rezalet",
    "kartımdan iki kez çekim yapıldı, paramı geri istiyorum",
    "uygulamaya giriş yapamıyorum, şifre sıfırlama maili de gelmiyor",
    "hâlâ çözüm yok, aboneliğimi iptal edeceğim",
    "teslimat adresi yanlış girilmiş, kurye kapıya gelmeden teslim edildi yazıyor",
    "siparisim gelmedi, kargo firmasi da cevap vermiyor",
]
EN_COMPLAINT = [
    "my order {order} still hasn't arrived after {days} days and tracking is stuck",
    "I was charged {amount} dollars twice this month, nobody explains why",
    "the app keeps crashing when I try to pay, this is so frustrating",
    "waited {minutes} minutes on hold and then the call dropped, terrible service",
    "received a broken item and my refund request is ignored for {days} days",
    "my internet has been down for {days} days, I want to cancel my subscription",
    "can't log in since the update, password reset email never comes",
    "the courier marked my parcel delivered but I never got it",
]
TR_QUESTION = [
    "{order} numaralı siparişim ne zaman kargoya verilir?",
    "faturamı nereden indirebilirim?",
    "yurt dışı kullanım paketi var mı, fiyatı nedir?",
    "iade sürecini nasıl başlatabilirim?",
    "mağazanız hafta sonu kaçta açılıyor?",
    "tarifemi değiştirmek istiyorum, hangi seçenekler var?",
]
EN_QUESTION = [
    "when will order {order} ship?",
    "how can I change the delivery address of my order?",
    "do you ship to Germany, and how long does it take?",
    "where can I download my invoice?",
    "is there a student discount on the yearly plan?",
    "how do I start a return?",
]
TR_PRAISE = [
    "siparişim {days} günde geldi, çok teşekkürler, harika hizmet",
    "müşteri temsilciniz sorunumu hemen çözdü, çok memnun kaldım",
    "yeni uygulama çok güzel olmuş, tebrikler",
    "kargo çok hızlıydı, ürün de mükemmel",
]
EN_PRAISE = [
    "thanks for the quick refund, great support team!",
    "order {order} arrived in {days} days, love it",
    "your agent solved my problem in minutes, amazing service",
    "the new app update is fantastic, well done",
]
TR_FOLLOW = [
    "hâlâ cevap bekliyorum",
    "bir gelişme var mı? {days} gün oldu",
    "sipariş numaram {order}, lütfen kontrol edin",
    "tamam, teşekkürler",
    "DM'den yazdım, dönüş yapar mısınız?",
]
EN_FOLLOW = [
    "still waiting for an answer",
    "any update? it's been {days} days",
    "my order number is {order}, please check",
    "ok, thanks",
    "I sent you a DM, please reply",
]
TR_BRAND = [
    "Merhaba, yaşadığınız sorun için özür dileriz. DM üzerinden sipariş numaranızı iletir misiniz?",
    "Merhaba, talebinizi ilgili birime ilettik, 24 saat içinde dönüş yapacağız.",
    "Merhaba, kaydınızı inceledik, iadeniz başlatıldı.",
]
EN_BRAND = [
    "Hi, sorry about this. Could you DM us your order number so we can check?",
    "Hi, we've passed this to the team and will get back to you within 24 hours.",
    "Hi, we checked your account: your refund has been issued.",
]
TR_OPENERS = ["", "", "@AcmeDestek ", "Merhaba, ", "Arkadaşlar ", "Sayın yetkili, "]
EN_OPENERS = ["", "", "@AcmeHelp ", "Hi, ", "Hello team, "]
TR_CLOSERS = ["", "", "!", "!!", " 😡", " 🙏", " yazık", ". Lütfen yardımcı olun."]
EN_CLOSERS = ["", "", "!", "!!", " 😡", " 🙏", ". Please help.", " #fail"]
FIRST_NAMES = ["Ayşe", "Mehmet", "Zeynep", "Emre", "Elif", "Can", "Sarah", "John", "Emma", "Ali"]
LAST_NAMES = ["Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Smith", "Brown", "Öztürk", "Taylor"]
FOLD = str.maketrans("çğıöşüÇĞİÖŞÜâ", "cgiosuCGIOSUa")

CHANNELS = ("twitter", "facebook", "email", "phone")
CHANNEL_WEIGHTS = (0.45, 0.2, 0.25, 0.1)
PUBLIC = {"twitter": 0.8, "facebook": 0.6, "email": 0.0, "phone": 0.0}
BRAND = {
    "twitter": {"external_id": "583920147", "handle": "AcmeDestek", "display_name": "Acme"},
    "facebook": {"external_id": "page-1001", "display_name": "Acme"},
    "email": {"external_id": "destek@acme.example", "email": "destek@acme.example"},
    "phone": {"external_id": "+902120000000", "phone": "+902120000000"},
}


@dataclass
class _Thread:
    channel: str
    key: str
    last_id: str
    customer: int
    public: bool
    turkish: bool


@dataclass
class GenStats:
    rows: int = 0
    inbound: int = 0
    outbound: int = 0
    intents: dict[str, int] = field(default_factory=dict)
    customers: set[int] = field(default_factory=set)


class Generator:
    """Stream interchange records; state is bounded (recent threads only), never all rows."""

    def __init__(self, n: int, seed: int = 12) -> None:
        self.n = n
        self.rng = random.Random(seed)
        self.customers = max(1_000, n // 4)
        # Zipf-like (s = 1.1) popularity of customers: a few write very often.
        weights = (1.0 / (rank**1.1) for rank in range(1, self.customers + 1))
        self.cum = list(itertools.accumulate(weights))
        self.end = datetime.now(UTC).replace(microsecond=0)
        self.start = self.end - timedelta(days=30)
        self.step = (self.end - self.start).total_seconds() / max(n, 1)
        self.recent: deque[_Thread] = deque(maxlen=5_000)
        self.open_by_customer: dict[int, _Thread] = {}
        self.seq = 0

    def _customer(self) -> int:
        return bisect.bisect_left(self.cum, self.rng.random() * self.cum[-1]) + 1

    def _author(self, cid: int, channel: str) -> dict[str, Any]:
        r = random.Random(cid)  # a customer's own details are stable
        first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
        email = f"{first.translate(FOLD).lower()}.{last.translate(FOLD).lower()}{cid}@example.com"
        if channel == "twitter":
            author: dict[str, Any] = {
                "external_id": str(10_000_000 + cid),
                "handle": f"{first.translate(FOLD).lower()}{cid}",
                "display_name": f"{first} {last}",
                "followers": int(r.paretovariate(1.2) * 40),
            }
            if r.random() < 0.1:
                author["email"] = email  # links the account to the e-mail identity
            return author
        if channel == "facebook":
            return {"external_id": f"fb-{cid}", "display_name": f"{first} {last}"}
        if channel == "email":
            return {"external_id": email, "email": email, "display_name": f"{first} {last}"}
        phone = f"+90532{cid:07d}"
        return {"external_id": phone, "phone": phone}

    def _fill(self, template: str) -> str:
        r = self.rng
        return template.format(
            order=f"{r.choice('ABKT')}{r.randint(100000, 999999)}",
            days=r.randint(2, 15),
            amount=r.randint(49, 900),
            minutes=r.randint(10, 90),
        )

    def _text(self, turkish: bool, pool_tr: Sequence[str], pool_en: Sequence[str]) -> str:
        r = self.rng
        if turkish:
            text = r.choice(TR_OPENERS) + self._fill(r.choice(pool_tr)) + r.choice(TR_CLOSERS)
            return text.translate(FOLD) if r.random() < 0.2 else text
        return r.choice(EN_OPENERS) + self._fill(r.choice(pool_en)) + r.choice(EN_CLOSERS)

    def records(self, stats: GenStats) -> Iterator[dict[str, Any]]:
        r = self.rng
        for i in range(self.n):
            self.seq += 1
            at = self.start + timedelta(seconds=i * self.step + r.random() * self.step)
            if self.recent and r.random() < 0.10:
                yield self._brand_reply(r.choice(self.recent), at, stats)
                continue
            cid = self._customer()
            stats.customers.add(cid)
            thread = self.open_by_customer.get(cid)
            if thread is not None and r.random() < 0.35:
                yield self._follow_up(thread, at, stats)
                continue
            yield self._new_message(cid, at, stats)

    def _base(self, channel: str, at: datetime, public: bool, turkish: bool) -> dict[str, Any]:
        prefix = {"twitter": "", "facebook": "fb_", "email": "<m", "phone": "CALL-"}[channel]
        ext = f"{prefix}{18_000_000_000 + self.seq}" + (">" if channel == "email" else "")
        return {
            "channel": channel,
            "external_id": ext,
            "created_at": at.isoformat(),
            "public": public,
            "language": ("tr" if turkish else "en") if channel == "twitter" else None,
        }

    def _new_message(self, cid: int, at: datetime, stats: GenStats) -> dict[str, Any]:
        r = self.rng
        home = random.Random(cid * 7919)
        turkish = home.random() < 0.6
        channel = home.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        if r.random() < 0.15:
            channel = r.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        public = r.random() < PUBLIC[channel]
        intent = r.choices(("complaint", "question", "praise"), (0.6, 0.25, 0.15))[0]
        pools = {
            "complaint": (TR_COMPLAINT, EN_COMPLAINT),
            "question": (TR_QUESTION, EN_QUESTION),
            "praise": (TR_PRAISE, EN_PRAISE),
        }[intent]
        rec = self._base(channel, at, public, turkish)
        rec["text"] = self._text(turkish, *pools)
        rec["author"] = self._author(cid, channel)
        if channel == "email":
            rec["subject"] = rec["text"][:60]
        thread_key = rec["external_id"] if channel in ("twitter", "facebook") else f"t{self.seq}"
        rec["thread_key"] = thread_key
        if public:
            rec["engagement"] = {"likes": r.randint(0, 30), "shares": r.randint(0, 5)}
        if channel == "twitter":
            rec["raw"] = {"id": rec["external_id"], "author_id": rec["author"]["external_id"]}
        thread = _Thread(channel, thread_key, rec["external_id"], cid, public, turkish)
        self.open_by_customer[cid] = thread
        if len(self.open_by_customer) > 50_000:  # bounded: forget the oldest threads
            for key in list(itertools.islice(self.open_by_customer, 10_000)):
                del self.open_by_customer[key]
        self.recent.append(thread)
        stats.rows += 1
        stats.inbound += 1
        stats.intents[intent] = stats.intents.get(intent, 0) + 1
        return {k: v for k, v in rec.items() if v is not None}

    def _follow_up(self, thread: _Thread, at: datetime, stats: GenStats) -> dict[str, Any]:
        rec = self._base(thread.channel, at, thread.public, thread.turkish)
        rec["text"] = self._text(thread.turkish, TR_FOLLOW, EN_FOLLOW)
        rec["author"] = self._author(thread.customer, thread.channel)
        rec["thread_key"] = thread.key
        rec["in_reply_to"] = thread.last_id
        thread.last_id = rec["external_id"]
        stats.rows += 1
        stats.inbound += 1
        stats.intents["follow-up"] = stats.intents.get("follow-up", 0) + 1
        return {k: v for k, v in rec.items() if v is not None}

    def _brand_reply(self, thread: _Thread, at: datetime, stats: GenStats) -> dict[str, Any]:
        rec = self._base(thread.channel, at, thread.public, thread.turkish)
        rec["direction"] = "outbound"
        rec["text"] = self.rng.choice(TR_BRAND if thread.turkish else EN_BRAND)
        rec["author"] = BRAND[thread.channel]
        rec["recipient"] = self._author(thread.customer, thread.channel)
        rec["thread_key"] = thread.key
        rec["in_reply_to"] = thread.last_id
        thread.last_id = rec["external_id"]
        stats.rows += 1
        stats.outbound += 1
        return {k: v for k, v in rec.items() if v is not None}


def generate(path: Path, n: int, prefix: Path, prefix_n: int) -> GenStats:
    """Write ``n`` lines to ``path`` and the first ``prefix_n`` of them to ``prefix``."""
    stats = GenStats()
    with path.open("w", encoding="utf-8") as out, prefix.open("w", encoding="utf-8") as pre:
        for i, rec in enumerate(Generator(n).records(stats)):
            line = json.dumps(rec, ensure_ascii=False) + "\n"
            out.write(line)
            if i < prefix_n:
                pre.write(line)
    return stats


# --------------------------------------------------------------------------- ceiling

CEILING_COLUMNS = (
    "channel",
    "external_id",
    "direction",
    "public",
    "author_id",
    "text",
    "subject",
    "language",
    "created_at",
    "thread_key",
    "in_reply_to",
    "engagement",
    "raw",
)


def ceiling_chunks(path: Path) -> Iterator[list[tuple[Any, ...]]]:
    """The file's interaction rows as tuples, ``CHUNK`` at a time (decoding is not timed)."""
    with path.open("rb") as f:
        while True:
            lines = list(itertools.islice(f, CHUNK))
            if not lines:
                return
            rows = []
            for line in lines:
                d = json.loads(line)
                rows.append(
                    (
                        d["channel"],
                        d["external_id"],
                        d.get("direction", "inbound"),
                        d.get("public", False),
                        d["author"]["external_id"],
                        d["text"],
                        d.get("subject"),
                        d.get("language"),
                        d["created_at"],
                        d.get("thread_key"),
                        d.get("in_reply_to"),
                        json.dumps(d["engagement"]) if "engagement" in d else None,
                        json.dumps(d["raw"]) if "raw" in d else None,
                    )
                )
            yield rows


def sqlite_ceiling(path: Path, db_path: Path) -> float:
    """Seconds for executemany of every row into an indexed table, one transaction, WAL."""
    con = sqlite3.connect(db_path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")  # what scrm's engine sets
    con.execute(
        "CREATE TABLE interactions (id INTEGER PRIMARY KEY, channel TEXT NOT NULL,"
        " external_id TEXT NOT NULL, direction TEXT, public BOOLEAN, author_id TEXT, text TEXT,"
        " subject TEXT, language TEXT, created_at TEXT, thread_key TEXT, in_reply_to TEXT,"
        " engagement TEXT, raw TEXT)"
    )
    con.execute("CREATE UNIQUE INDEX uq_channel_external_id ON interactions (channel, external_id)")
    sql = (
        f"INSERT INTO interactions ({', '.join(CEILING_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(CEILING_COLUMNS))})"
    )
    elapsed = 0.0
    con.execute("BEGIN")
    for rows in ceiling_chunks(path):
        t0 = time.perf_counter()
        con.executemany(sql, rows)
        elapsed += time.perf_counter() - t0
    t0 = time.perf_counter()
    con.execute("COMMIT")
    elapsed += time.perf_counter() - t0
    con.close()
    return elapsed


def pg_ceiling(path: Path, url: str) -> float:
    """Seconds for COPY of every row into an indexed table, one transaction."""
    import psycopg

    with psycopg.connect(url) as con:
        con.execute("DROP TABLE IF EXISTS bench_ceiling")
        con.execute(
            "CREATE TABLE bench_ceiling (id BIGSERIAL PRIMARY KEY, channel TEXT NOT NULL,"
            " external_id TEXT NOT NULL, direction TEXT, public BOOLEAN, author_id TEXT,"
            " text TEXT, subject TEXT, language TEXT, created_at TIMESTAMPTZ, thread_key TEXT,"
            " in_reply_to TEXT, engagement JSONB, raw JSONB, UNIQUE (channel, external_id))"
        )
        con.commit()
        elapsed = 0.0
        with con.cursor() as cur:
            copy_sql = f"COPY bench_ceiling ({', '.join(CEILING_COLUMNS)}) FROM STDIN"
            with cur.copy(copy_sql) as copy:
                for rows in ceiling_chunks(path):
                    t0 = time.perf_counter()
                    for row in rows:
                        copy.write_row(row)
                    elapsed += time.perf_counter() - t0
                t0 = time.perf_counter()
            elapsed += time.perf_counter() - t0  # the end of COPY flushes and checks
        t0 = time.perf_counter()
        con.commit()
        elapsed += time.perf_counter() - t0
        con.execute("DROP TABLE bench_ceiling")
        con.commit()
    return elapsed


def pg_reset(url: str) -> None:
    """Empty the throw-away PostgreSQL database (schema public dropped and recreated)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS public CASCADE")
        con.execute("CREATE SCHEMA public")


# --------------------------------------------------------------------------- scrm runs


@dataclass
class Run:
    label: str
    rows: int
    seconds: float
    rss_kb: int | None = None
    cpu: float | None = None
    """CPU seconds of the ingesting process (user + system); the rest of the wall time is waiting."""
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def api_ingest(url: str, path: Path, rows: int, batch_size: int) -> Run:
    """Ingest through the Python API on a fresh database (migration not timed)."""
    app = scrm.open(url, migrate=True, config=Config(database_url=url, batch_size=batch_size))
    try:
        with path.open("rb") as f:
            t0, c0 = time.perf_counter(), time.process_time()
            report = app.ingest_lines(f, source=str(path), fmt="interactions")
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        app.close()
    return Run("scrm API", rows, elapsed, cpu=cpu, report=report.as_dict())


def _scrm_env(url: str, batch_size: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRM_")}
    env["SCRM_DATABASE_URL"] = url
    env["SCRM_BATCH_SIZE"] = str(batch_size)
    return env


def run_measured(
    cmd: list[str], env: dict[str, str], cwd: Path
) -> tuple[float, int, float, str, int]:
    """Run ``cmd``; return (seconds, peak RSS in KiB, CPU seconds, stdout, exit status)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode not in (0, 3):  # 3: finished, some records rejected
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr[-3000:]}")
    return elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime, stdout, proc.returncode


def cli_ingest(url: str, path: Path, rows: int, batch_size: int, cwd: Path, label: str) -> Run:
    """``scrm ingest --format interactions FILE`` on a fresh database (``scrm db upgrade`` first)."""
    env = _scrm_env(url, batch_size)
    run_measured([str(SCRM_BIN), "db", "upgrade"], env, cwd)
    cmd = [str(SCRM_BIN), "ingest", "--format", "interactions", "--json", str(path)]
    elapsed, rss, cpu, stdout, _ = run_measured(cmd, env, cwd)
    report = json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else {}
    report.pop("rejects", None)
    return Run(label, rows, elapsed, rss_kb=rss, cpu=cpu, report=report)


# --------------------------------------------------------------------------- queries


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p99) in milliseconds."""
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return q[49] * 1000, q[98] * 1000


def time_calls(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    for _ in range(min(5, runs)):
        fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return percentiles(samples)


def grow_cases(engine: sa.Engine, target: int) -> int:
    """Copy case rows until the table holds ``target``; return its size.

    Only the cases table grows (interactions stay as ingested): enough for the case queries.
    """
    with engine.begin() as con:
        have = con.execute(sa.text("SELECT count(*) FROM cases")).scalar_one()
        if have == 0:
            return 0
        cols = [c for c in sa.inspect(con).get_columns("cases") if c["name"] != "id"]
        names = ", ".join(c["name"] for c in cols)
        # Copies are history: nine in ten closed (no clock running), one in ten as it was.
        closed = {
            "status": "'closed'",
            "next_due": "NULL",
            "closed_at": "last_activity_at",
            "first_response_due": "NULL",
            "follow_up_due": "NULL",
            "resolution_due": "NULL",
        }
        copy = ", ".join(
            f"CASE WHEN id % 10 = 0 THEN {c['name']} ELSE {closed[c['name']]} END"
            if c["name"] in closed
            else c["name"]
            for c in cols
        )
        while have < target:
            take = min(have, target - have)
            con.execute(
                sa.text(
                    f"INSERT INTO cases ({names}) SELECT {copy} FROM cases ORDER BY id LIMIT {take}"
                )
            )
            have += take
        if engine.dialect.name == "postgresql":
            con.execute(sa.text("ANALYZE"))  # autovacuum would do it; SQLite gets none (as scrm)
    return have


class Capture:
    """Record the SQL statements an engine runs (to time and EXPLAIN exactly what scrm sends)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.statements: list[tuple[str, Any]] = []
        sa.event.listen(engine, "before_cursor_execute", self._on)

    def _on(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        self.statements.append((statement, params))

    def main_query(self, fn: Callable[[], object], table: str) -> tuple[str, Any]:
        """The first LIMITed SELECT on ``table`` that ``fn`` runs."""
        self.statements.clear()
        fn()
        for stmt, params in self.statements:
            flat = " ".join(stmt.split())
            if flat.startswith("SELECT") and f"FROM {table}" in flat and "LIMIT" in flat:
                return stmt, params
        raise LookupError(f"no LIMITed query on {table} in {self.statements}")

    def close(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._on)


def explain(engine: sa.Engine, stmt: str, params: Any) -> list[str]:
    with engine.connect() as con:
        if engine.dialect.name == "sqlite":
            rows = con.exec_driver_sql("EXPLAIN QUERY PLAN " + stmt, params).all()
            return [row[3] for row in rows]
        rows = con.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + stmt, params).all()
        return [row[0] for row in rows]


def time_sql(engine: sa.Engine, stmt: str, params: Any, runs: int) -> tuple[float, float]:
    """(p50, p99) of the statement alone, on a raw DBAPI connection.

    Raw, because scrm's SQLite sessions start with BEGIN IMMEDIATE (the write lock) even to
    read; a connection kept in such a transaction would block the API calls timed next.
    """
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()

        def call() -> object:
            cur.execute(stmt, params)
            return cur.fetchall()

        return time_calls(call, runs)
    finally:
        raw.rollback()
        raw.close()


def query_latencies(url: str, runs: int, candidates: bool) -> None:
    app = scrm.open(url)
    engine = app.engine
    try:
        with engine.connect() as con:
            n_cases = con.execute(sa.text("SELECT count(*) FROM cases")).scalar_one()
            n_open = con.execute(
                sa.text("SELECT count(*) FROM cases WHERE status IN :s").bindparams(
                    sa.bindparam("s", expanding=True)
                ),
                {"s": list(OPEN_STATUSES)},
            ).scalar_one()
            heavy, heavy_n = con.execute(
                sa.text(
                    "SELECT customer_id, count(*) FROM interactions WHERE customer_id IS NOT NULL"
                    " GROUP BY customer_id ORDER BY count(*) DESC LIMIT 1"
                )
            ).one()
            median_customer = con.execute(
                sa.text(
                    "SELECT customer_id FROM interactions WHERE id = (SELECT max(id) / 2 FROM interactions)"
                )
            ).scalar_one()
        print(
            f"\n  {n_cases:,} cases ({n_open:,} open); heaviest customer has {heavy_n:,} interactions"
        )
        now = datetime.now(UTC) + timedelta(hours=1)
        cap = Capture(engine)
        queries: list[tuple[str, str, Callable[[], object]]] = [
            (
                "SLA: open, due within the hour, oldest first, 50",
                "cases",
                lambda: app.cases(breaching=True, now=now, limit=50),
            ),
            (
                f"timeline of the heaviest customer ({heavy_n} msgs)",
                "interactions",
                lambda: app.interactions(customer=heavy, limit=50),
            ),
            (
                "timeline of a typical customer",
                "interactions",
                lambda: app.interactions(customer=median_customer, limit=50),
            ),
            (
                "department support, status new, 50",
                "cases",
                lambda: app.cases(department="support", status="new", limit=50),
            ),
        ]
        plans: list[tuple[str, str, Any]] = []
        print(f"  {'query':<52} {'SQL p50':>9} {'SQL p99':>9} {'API p50':>9} {'API p99':>9}  (ms)")
        for label, table, call in queries:
            stmt, params = cap.main_query(call, table)
            sql50, sql99 = time_sql(engine, stmt, params, runs)
            api50, api99 = time_calls(call, max(runs // 4, 20))
            print(f"  {label:<52} {sql50:9.3f} {sql99:9.3f} {api50:9.3f} {api99:9.3f}")
            plans.append((label, stmt, params))
        cap.close()
        for label, stmt, params in plans:
            print(f"\n  EXPLAIN {label}:\n    " + " ".join(stmt.split())[:400])
            for line in explain(engine, stmt, params):
                print("      " + line)
        if candidates:
            candidate_indexes(engine, plans, runs)
    finally:
        app.close()


def candidate_indexes(engine: sa.Engine, plans: list[tuple[str, str, Any]], runs: int) -> None:
    """Time the same statements with indexes scrm does not have (this database only)."""
    in_list = ", ".join(f"'{s}'" for s in OPEN_STATUSES)
    ddl = [
        f"CREATE INDEX bench_cases_open_next_due ON cases (next_due, id) WHERE status IN ({in_list})",
        "CREATE INDEX bench_interactions_customer_id_id ON interactions (customer_id, id)",
        "CREATE INDEX bench_cases_department_status_id ON cases (department_id, status, id)",
    ]
    with engine.begin() as con:
        for stmt in ddl:
            con.exec_driver_sql(stmt)
        if engine.dialect.name == "postgresql":
            con.exec_driver_sql("ANALYZE cases")
            con.exec_driver_sql("ANALYZE interactions")
    print("\n  with candidate indexes (created in this benchmark database only):")
    for stmt in ddl:
        print("    " + stmt)
    # SQLite uses a partial index only when the query's WHERE names the same constants: the
    # SLA query with its status list inlined (SQLAlchemy: bindparam(..., literal_execute=True)).
    sla_stmt, sla_params = plans[0][1], plans[0][2]
    due = next(
        v
        for v in (sla_params.values() if isinstance(sla_params, dict) else sla_params)
        if not isinstance(v, int) and v not in OPEN_STATUSES
    )
    mark = "?" if engine.dialect.name == "sqlite" else "%s"
    columns = sla_stmt[len("SELECT") : sla_stmt.index("FROM cases")].strip()
    literal = (
        f"SELECT {columns} FROM cases WHERE cases.status IN ({in_list}) "
        f"AND cases.next_due <= {mark} ORDER BY cases.next_due, cases.id LIMIT 50"
    )
    plans = [*plans, ("SLA, status list inlined as constants", literal, (due,))]
    for label, stmt, params in plans:
        p50, p99 = time_sql(engine, stmt, params, runs)
        plan = " | ".join(line.strip() for line in explain(engine, stmt, params))
        print(f"  {label:<52} SQL p50 {p50:8.3f}  p99 {p99:8.3f} ms\n      plan: {plan[:300]}")
    with engine.begin() as con:
        for name in (
            "bench_cases_open_next_due",
            "bench_interactions_customer_id_id",
            "bench_cases_department_status_id",
        ):
            con.exec_driver_sql(f"DROP INDEX {name}")


# --------------------------------------------------------------------------- main


def show(run: Run, ceiling: float) -> None:
    ratio = run.rate / ceiling if ceiling else 0.0
    rss = f"  peak RSS {run.rss_kb / 1024:6.1f} MiB" if run.rss_kb else ""
    rss += f"  CPU {run.cpu:.1f} s" if run.cpu is not None else ""
    mark = "ok" if ratio >= TARGET_RATIO else f"below the {TARGET_RATIO:.0%} target"
    print(
        f"  {run.label:<28} {run.rows:>9,} rows {run.seconds:8.1f} s {run.rate:>9,.0f} rows/s"
        f"  {ratio:6.1%} of ceiling ({mark}){rss}"
    )
    if run.report:
        print(f"      {run.report}")


def backend(
    name: str,
    url: str,
    data: Path,
    prefix: Path,
    n: int,
    prefix_n: int,
    args: argparse.Namespace,
    work: Path,
    reset: Callable[[], None],
    ceiling: Callable[[], float],
) -> None:
    print(f"\n== {name} ==")
    reset()
    seconds = ceiling()
    ceiling_rate = n / seconds
    print(f"  {'ceiling':<28} {n:>9,} rows {seconds:8.1f} s {ceiling_rate:>9,.0f} rows/s")
    runs: list[Run] = []
    if not args.skip_api:
        reset()
        runs.append(api_ingest(url, data, n, args.batch_size))
        show(runs[-1], ceiling_rate)
    reset()
    runs.append(cli_ingest(url, data, n, args.batch_size, work, "scrm ingest (CLI)"))
    show(runs[-1], ceiling_rate)
    if name == "SQLite" and not args.skip_rss:
        # The same command on a prefix of the file, into its own database: peak RSS vs size.
        small_url = f"sqlite:///{work / 'rss.db'}"
        small = cli_ingest(
            small_url, prefix, prefix_n, args.batch_size, work, "scrm ingest, prefix"
        )
        show(small, ceiling_rate)
        big = runs[-1]
        if small.rss_kb and big.rss_kb:
            print(
                f"  peak RSS {prefix_n:,} lines {small.rss_kb / 1024:.1f} MiB, {n:,} lines "
                f"{big.rss_kb / 1024:.1f} MiB: +{(big.rss_kb - small.rss_kb) / 1024:.1f} MiB"
                " (target: under 50 MB more at 1M than at 100k)"
            )
    if not args.skip_queries:
        t0 = time.perf_counter()
        app = scrm.open(url)
        try:
            have = grow_cases(app.engine, args.query_cases)
        finally:
            app.close()
        print(
            f"\n  queries on the database of the CLI run, cases grown to {have:,} by copying rows "
            f"({time.perf_counter() - t0:.1f} s)"
        )
        query_latencies(url, args.query_runs, args.candidates)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="interactions to generate")
    parser.add_argument("--pg", metavar="URL", help="also run on this throw-away PostgreSQL db")
    parser.add_argument("--batch-size", type=int, default=1000, help="scrm's batch_size")
    parser.add_argument("--query-cases", type=int, default=1_000_000, help="cases for queries")
    parser.add_argument("--query-runs", type=int, default=400, help="repetitions per query")
    parser.add_argument("--candidates", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-api", action="store_true", help="no Python API run")
    parser.add_argument("--skip-rss", action="store_true", help="no prefix run for peak RSS")
    parser.add_argument("--skip-queries", action="store_true")
    parser.add_argument("--keep", metavar="DIR", type=Path, help="keep files in DIR")
    args = parser.parse_args(argv)
    if args.pg and not any(w in args.pg.rsplit("/", 1)[-1] for w in ("bench", "test")):
        parser.error("--pg drops the database's schema: name a database containing bench or test")

    work = args.keep or Path(tempfile.mkdtemp(prefix="scrm-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    n = args.n
    prefix_n = 100_000 if n > 100_000 else max(n // 10, 1)
    data, prefix = work / "interactions.jsonl", work / "prefix.jsonl"
    try:
        t0 = time.perf_counter()
        stats = generate(data, n, prefix, prefix_n)
        print(
            f"generated {stats.rows:,} interactions ({data.stat().st_size / 1e6:.0f} MB) in "
            f"{time.perf_counter() - t0:.1f} s: {stats.inbound:,} inbound, {stats.outbound:,} "
            f"brand replies; {len(stats.customers):,} distinct customers; intents {stats.intents}"
        )
        print(
            f"scrm from {Path(scrm.__file__).parent}; batch_size {args.batch_size}; Python {sys.version.split()[0]}, "
            f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs"
        )
        if not args.skip_sqlite:
            db = work / "scrm.db"

            def reset_sqlite() -> None:
                for p in work.glob("*.db*"):
                    p.unlink()

            backend(
                "SQLite", f"sqlite:///{db}", data, prefix, n, prefix_n, args, work,
                reset_sqlite, lambda: sqlite_ceiling(data, work / "ceiling.db"),
            )  # fmt: skip
        if args.pg:
            pg_url: str = args.pg
            args.skip_rss = True
            backend(
                "PostgreSQL", pg_url, data, prefix, n, prefix_n, args, work,
                lambda: pg_reset(pg_url), lambda: pg_ceiling(data, pg_url),
            )  # fmt: skip
            pg_reset(pg_url)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
