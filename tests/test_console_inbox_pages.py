"""The inbox a page at a time: keyset pages over the worklist order (deadlines first, then
cases without one), forward and back, and the same counts on every page.  The worklists
themselves (views, filters, search) are tested in test_console.py; their speed at 100,000
cases is bench/console_inbox.py's."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from consolekit import client, sign_in
from helpers import message
from hypothesis import given
from hypothesis import strategies as st
from serverkit import SERVER_KEY, make_key

from scrm.core import worklists
from scrm.core.app import Scrm
from scrm.core.cases import OPEN_STATUSES
from scrm.core.config import Config
from scrm.core.errors import InvalidInput
from scrm.core.models import OPEN_CASES, Case
from scrm.core.services import cases as case_service

#: Two brands beside the default one (the pages of each are its cases only).
BRANDS = {
    "acme": {"name": "Acme", "accounts": {"twitter": ["acme_tr"]}},
    "globex": {"name": "Globex", "accounts": {"twitter": ["globex"]}},
}

#: Deadlines of cases 1..8 in hours from now (None: no deadline): ties, and two without.
DUE_HOURS = [5, None, 1, 5, -2, None, 5, 1]


@pytest.fixture
def scrm_config(scrm_database_url: str) -> Config:
    return Config(database_url=scrm_database_url, server={"secret_key": SERVER_KEY}, brands=BRANDS)


@pytest.fixture
def desk(app: Scrm) -> Scrm:
    """Eight open cases with the deadlines of DUE_HOURS."""
    now = datetime.now(UTC).replace(microsecond=0)
    app.ingest_native("phone", [
        {"record_id": f"P-{n}", "channel": "phone", "received_at": now.isoformat(),
         "caller": {"name": f"Kişi {n}", "phone": f"+90 532 111 23 {n:02d}"},
         "text": f"Siparişim {n} gelmedi"}
        for n in range(1, len(DUE_HOURS) + 1)
    ])  # fmt: skip
    with app.session() as s:
        for case_id, hours in enumerate(DUE_HOURS, start=1):
            due = None if hours is None else now + timedelta(hours=hours)
            s.execute(sa.update(Case).where(Case.id == case_id).values(next_due=due))
    return app


def expected_order() -> list[int]:
    dated = sorted((h, i) for i, h in enumerate(DUE_HOURS, start=1) if h is not None)
    return [i for _, i in dated] + [i for i, h in enumerate(DUE_HOURS, start=1) if h is None]


@pytest.mark.parametrize("total", [None, len(DUE_HOURS)], ids=["walked", "read in one pass"])
def test_pages_follow_one_another_forward_and_back_in_the_worklist_order(
    desk: Scrm, total: int | None
) -> None:
    order = expected_order()
    assert order == [5, 3, 8, 1, 4, 7, 2, 6], "ties by id; no deadline last"
    with desk.session() as s:
        assert [r.id for r in worklists.worklist(s, "department")] == order
        for size in (1, 2, 3, 5, 8, 9):

            def page(size: int = size, **at: Any) -> worklists.WorklistPage:
                return worklists.page(s, "department", size=size, total=total, **at)

            pages = [page()]
            assert pages[0].previous is None
            while pages[-1].next is not None:
                pages.append(page(after=pages[-1].next))
            assert [r.id for p in pages for r in p.rows] == order, size
            assert all(len(p.rows) == size for p in pages[:-1]) and pages[-1].rows
            # Back from the last page, page by page, to the first.
            back = [pages[-1]]
            while back[-1].previous is not None:
                back.append(page(before=back[-1].previous))
            assert [[r.id for r in p.rows] for p in reversed(back)] == [
                [r.id for r in p.rows] for p in pages
            ], size


@pytest.mark.parametrize("total", [None, len(DUE_HOURS)], ids=["walked", "read in one pass"])
def test_going_back_near_the_start_shows_the_whole_first_page(
    desk: Scrm, total: int | None
) -> None:
    with desk.session() as s:
        after_one = worklists.page(s, "department", size=1, total=total)
        second = worklists.page(s, "department", size=3, after=after_one.next, total=total)
        assert [r.id for r in second.rows] == [3, 8, 1]
        first = worklists.page(s, "department", size=3, before=second.previous, total=total)
        assert [r.id for r in first.rows] == [5, 3, 8] and first.previous is None
        assert worklists.page(s, "department", total=0) == worklists.WorklistPage([], None, None)


def test_a_later_page_starts_after_the_last_case_seen_whatever_closed_meanwhile(
    desk: Scrm,
) -> None:
    with desk.session() as s:
        first = worklists.page(s, "department", size=3)
    assert [r.id for r in first.rows] == [5, 3, 8]
    case_service.transition(desk, 3, "resolved", actor="test")  # off the first page
    with desk.session() as s:
        second = worklists.page(s, "department", size=3, after=first.next)
        assert [r.id for r in second.rows] == [1, 4, 7], "no case skipped or shown twice"
        assert worklists.counts(s)["department"] == len(DUE_HOURS) - 1


def test_the_inbox_links_its_pages_and_counts_every_case_on_each(
    desk: Scrm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worklists, "PAGE_SIZE", 3)
    c = client(desk)
    sign_in(c, make_key(desk, "admin"))
    url, seen, pages = "/app/inbox?view=department", [], []
    while url:
        page = c.get(url).text
        pages.append(page)
        assert 'data-view="department">All open <span class="count">8</span>' in page
        seen += [int(n) for n in re.findall(r'data-case="(\d+)"', page)]
        found = re.search(r'<a href="([^"]+)" rel="next"', page)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert seen == expected_order() and len(pages) == 3
    assert 'data-page="first"' not in pages[0] and 'rel="prev"' not in pages[0]
    assert 'data-page="first"' in pages[2] and 'rel="prev"' in pages[2]
    prev = re.search(r'<a href="([^"]+)" rel="prev"', pages[2])
    assert prev is not None
    back = c.get(prev.group(1).replace("&amp;", "&") + "&partial=1").text
    assert [int(n) for n in re.findall(r'data-case="(\d+)"', back)] == expected_order()[3:6]
    assert c.get("/app/inbox?view=department&after=bm90LWEtcGFnZQ").status_code == 422
    assert c.get("/app/inbox?view=department&before=%00").status_code == 422


@given(
    due=st.none()
    | st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(9000, 1, 1), timezones=st.just(UTC)
    ),
    ident=st.integers(1, 2**31 - 1),
)
def test_a_position_survives_its_token(due: datetime | None, ident: int) -> None:
    at = worklists.Position(due, ident)
    assert worklists.Position.parse(at.token()) == at


@given(st.text(max_size=64))
def test_any_other_token_is_refused_as_invalid_input(token: str) -> None:
    try:
        at = worklists.Position.parse(token)
    except InvalidInput:
        return
    assert worklists.Position.parse(at.token()) == at


def test_a_brand_pages_and_counts_its_own_cases_only(desk: Scrm) -> None:
    desk.ingest([message(f"a{n}", account="acme_tr", author=f"a{n}") for n in range(3)]
                + [message(f"g{n}", account="globex", author=f"g{n}") for n in range(2)])  # fmt: skip
    seen = {}
    for brand in ("acme", "globex"):
        with desk.for_brand(brand).session() as s:
            found = worklists.page(s, "department", size=2)
            rest = worklists.page(s, "department", size=2, after=found.next) if found.next else None
            ids = [r.id for r in found.rows] + ([r.id for r in rest.rows] if rest else [])
            count = worklists.counts(s)
        with desk.session() as s:
            owners = set(s.scalars(sa.select(Case.brand_id).where(Case.id.in_(ids))))
        assert owners == {desk.brands.id_of(brand)}
        seen[brand] = (len(ids), count["department"], count["unassigned"])
    assert seen == {"acme": (3, 3, 3), "globex": (2, 2, 2)}
    with desk.session() as s:  # across brands: the agency's view
        assert worklists.counts(s)["department"] == len(DUE_HOURS) + 5


def test_the_partial_indexes_name_the_open_statuses_in_their_order() -> None:
    """The worklists name OPEN_STATUSES as literals, in order; an index condition naming
    others would never be used (PostgreSQL and SQLite must see the query implies it)."""
    assert tuple(re.findall(r"'([a-z_]+)'", OPEN_CASES)) == OPEN_STATUSES


def test_sqlite_gathers_the_statistics_the_inbox_counts_need(
    desk: Scrm, scrm_database_url: str
) -> None:
    """Nothing runs ANALYZE for a SQLite user, and without statistics SQLite counts the inbox
    through the wrong index: a closing connection analyses what its queries used."""
    if not scrm_database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's autovacuum gathers its statistics")
    path = scrm_database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as con:  # the template database may hold some already
        if _has_stat1(con):
            con.execute("DELETE FROM sqlite_stat1")
    c = client(desk)
    sign_in(c, make_key(desk, "admin"))
    assert c.get("/app/inbox?view=department").status_code == 200
    desk.close()  # the pool's connections close, as at the end of a command or a server
    with sqlite3.connect(path) as con:
        analysed = {idx for (idx,) in con.execute("SELECT idx FROM sqlite_stat1 WHERE tbl = 'cases'")}
    assert "ix_cases_open_inbox" in analysed


def _has_stat1(con: sqlite3.Connection) -> bool:
    return con.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone() is not None
