"""Real support threads give the same cases whatever order and batching they arrive in.

The threads are real (``threadkit``: IBM's public Twitter customer-care corpus), given to the
Twitter channel as X API v2 pages: oldest first, newest first as the API returns them,
shuffled, split across runs, a parent arriving after its reply.  What the cases must show is
computed from the threads themselves: each customer's messages on one case, opened at their
first message, first response at the brand's first answer after it, never negative, and
every answered case moved past ``new``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import threadkit as tk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scrm.core.app import Scrm
from scrm.core.config import Config
from scrm.core.models import Case, Identity, Interaction
from scrm.core.plugins import get_plugin_manager
from scrm.testing import _truncate_postgres

THREADS = tk.load()
MULTI = [th for th in THREADS if len(th.turns) >= 3]
"""The conversations with a back-and-forth (the ones order can break)."""
SUBSET = MULTI[::2] + THREADS[:: max(1, len(THREADS) // 60)]
"""About a hundred conversations: the suite stays fast; bench/threads.py runs all of them."""
BRANDS = tk.brand_ids(THREADS)


@pytest.fixture
def reset_db(request: pytest.FixtureRequest, scrm_database_url: str) -> Callable[[], Scrm]:
    """Return a function that empties the test's database and opens an application on it."""
    apps: list[Scrm] = []

    def fresh() -> Scrm:
        while apps:
            apps.pop().close()
        if scrm_database_url.startswith("sqlite"):
            template: Path = request.getfixturevalue("_sqlite_template")
            shutil.copyfile(template, scrm_database_url.removeprefix("sqlite:///"))
        else:
            _truncate_postgres(scrm_database_url)
        config = Config(
            database_url=scrm_database_url,
            channels={"twitter": {"brand_user_id": BRANDS[0], "other_brand_user_ids": BRANDS[1:]}},
        )
        app = Scrm(config, get_plugin_manager())
        app.upgrade()
        apps.append(app)
        return app

    yield fresh
    while apps:
        apps.pop().close()


def ingest(app: Scrm, runs: list[list[dict[str, Any]]], batch_size: int) -> None:
    """Ingest each run's pages in its own call, ``batch_size`` messages per transaction."""
    app.config = app.config.model_copy(update={"batch_size": batch_size})
    for pages in runs:
        report = app.ingest_native("twitter", pages)
        assert report.rejected == 0, report.rejects


def state(app: Scrm) -> dict[str, Any]:
    """Everything the conversations decided, named by tweet ids rather than row ids."""
    with app.session() as s:
        handle_of = dict(s.execute(sa.select(Identity.customer_id, Identity.external_id)).all())
        rows = s.execute(
            sa.select(Interaction.external_id, Interaction.case_id, Interaction.customer_id)
        ).all()
        members: dict[int, list[str]] = {}
        for ext, case_id, _ in rows:
            if case_id is not None:
                members.setdefault(case_id, []).append(ext)
        name = {case_id: min(exts, key=int) for case_id, exts in members.items()}
        cases = {}
        for case in s.scalars(sa.select(Case)):
            cases[name[case.id]] = (
                sorted(members[case.id], key=int),
                handle_of.get(case.customer_id),
                case.opened_at,
                case.first_response_at,
                case.status,
                case.kind,
                case.category,
                case.priority,
                case.department_id,
                case.waiting_since is not None,
            )
        return {
            "messages": {ext: (name.get(cid), handle_of.get(cust)) for ext, cid, cust in rows},
            "cases": cases,
        }


def check_against_threads(app: Scrm, threads: list[tk.Thread]) -> None:
    with app.session() as s:
        case_of = dict(s.execute(sa.select(Interaction.external_id, Interaction.case_id)).all())
        cases = {c.id: c for c in s.scalars(sa.select(Case))}
    for thread in threads:
        want = tk.expected(thread)
        [case_id] = {case_of[t] for t in want.customer_tweets}
        assert case_id is not None, f"thread {thread.session}: the customer's messages have no case"
        case = cases[case_id]
        assert _utc(case.opened_at) == want.opened_at, thread.session
        assert _utc(case.first_response_at) == want.first_response_at, thread.session
        answers = {t.tweet_id for t in thread.turns if t.brand and t.at >= want.opened_at}
        for tweet in answers:
            assert case_of[tweet] is not None, f"brand reply {tweet} of {thread.session}: no case"
        if want.first_response_at is not None:
            assert case.status != "new", f"thread {thread.session} answered, still new"
    for case in cases.values():
        if case.first_response_at is not None:
            assert case.first_response_at >= case.opened_at, f"case {case.id}: negative response"


def _utc(at: datetime | None) -> datetime | None:
    from datetime import UTC

    return None if at is None else at.replace(tzinfo=UTC) if at.tzinfo is None else at


def runs_of(
    order: str, page_size: int, per_run: int, threads: list[tk.Thread]
) -> Iterator[list[dict[str, Any]]]:
    pages = list(tk.pages(threads, order=order, page_size=page_size))
    for start in range(0, len(pages), per_run):
        yield pages[start : start + per_run]


@pytest.mark.parametrize(
    ("order", "page_size", "per_run", "batch_size"),
    [
        ("newest", 20, 1, 50),  # newest first as the X API returns pages, one page per poll
        ("shuffled", 10, 3, 7),  # any order, split across runs, small transactions
    ],
)
def test_real_threads_in_any_order_give_the_threads_own_figures(
    reset_db: Callable[[], Scrm], order: str, page_size: int, per_run: int, batch_size: int
) -> None:
    app = reset_db()
    ingest(app, list(runs_of(order, page_size, per_run, SUBSET)), batch_size)
    check_against_threads(app, SUBSET)


def test_real_threads_give_the_same_state_in_every_order(reset_db: Callable[[], Scrm]) -> None:
    threads = MULTI[1::3]
    app = reset_db()
    ingest(app, [list(tk.pages(threads, order="oldest"))], 1000)
    reference = state(app)
    for order, page_size, per_run, batch_size in (("newest", 5, 1, 3), ("shuffled", 7, 2, 5)):
        app = reset_db()
        ingest(app, list(runs_of(order, page_size, per_run, threads)), batch_size)
        assert state(app) == reference, (order, page_size, per_run, batch_size)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_permutations_and_batchings_of_real_threads_give_one_state(
    reset_db: Callable[[], Scrm], data: st.DataObject
) -> None:
    threads = data.draw(
        st.lists(st.sampled_from(MULTI), min_size=1, max_size=3, unique_by=lambda t: t.session)
    )
    tweets = [tw for th in threads for tw in tk.tweets(th)]
    order = data.draw(st.permutations(tweets))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(order) - 1)), max_size=4)))
    batch_size = data.draw(st.integers(1, 8))
    users = {u["id"]: u for u in next(tk.pages(threads))["includes"]["users"]}
    runs = []
    for start, end in zip([0, *cuts], [*cuts, len(order)], strict=True):
        part = order[start:end]
        if part:
            ids = {tw["author_id"] for tw in part} | {
                tw["in_reply_to_user_id"] for tw in part if "in_reply_to_user_id" in tw
            }
            runs.append([{"data": part, "includes": {"users": [users[i] for i in sorted(ids)]}}])

    app = reset_db()
    ingest(app, [list(tk.pages(threads, order="oldest"))], 1000)
    reference = state(app)
    app = reset_db()
    ingest(app, runs, batch_size)
    assert state(app) == reference
    check_against_threads(app, threads)
