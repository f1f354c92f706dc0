"""The agent console without a browser: sessions, cookie flags, CSRF, roles and scope, the
worklists, and that every action leaves what the REST API's would.  The browser tests are
in test_console_browser.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from consolekit import agent_key, client, csrf_of, flash_of, sign_in
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serverkit import auth, make_key, scrm_config, seed_cases  # noqa: F401

import scrm
from scrm.core import passwords, worklists
from scrm.core.agents import ensure_departments
from scrm.core.app import Scrm
from scrm.core.metrics import generate_report, parse_period
from scrm.core.metrics.html import render_html
from scrm.core.models import ApiKey, AuditEntry, Case, CaseEvent, Customer, LabelCorrection
from scrm.core.services import cases as case_service
from scrm.core.services import outbox
from scrm.server.app import iter_routes
from scrm.server.console.session import COOKIE

#: Every console route; a new one must be added here and to the sign-in check below.
CONSOLE_ROUTES = {
    ("GET", "/app"),
    ("GET", "/app/signin"),
    ("POST", "/app/signin"),
    ("POST", "/app/signout"),
    ("POST", "/app/signin/password"),
    ("POST", "/app/language"),
    ("GET", "/app/inbox"),
    ("GET", "/app/cases/{case_id}"),
    ("POST", "/app/cases/{case_id}/reply"),
    ("POST", "/app/cases/{case_id}/transition"),
    ("POST", "/app/cases/{case_id}/assign"),
    ("POST", "/app/interactions/{interaction_id}/labels"),
    ("GET", "/app/customers/{customer_id}"),
    ("POST", "/app/customers/{customer_id}/merge"),
    ("POST", "/app/customers/{customer_id}/unmerge"),
    ("POST", "/app/cases/{case_id}/incident"),
    ("POST", "/app/cases/{case_id}/incident/reply"),
    ("POST", "/app/cases/{case_id}/merge"),
    ("POST", "/app/interactions/{interaction_id}/move"),
    ("GET", "/app/alerts"),
    ("POST", "/app/alerts/{alert_id}/acknowledge"),
    ("GET", "/app/reports"),
    ("GET", "/app/reports/view"),
    ("GET", "/app/settings"),
    ("POST", "/app/settings/timezone"),
    ("POST", "/app/brand"),
}
OPEN_TO_ALL = {("GET", "/app"), ("GET", "/app/signin"), ("POST", "/app/signin"), ("POST", "/app/signout"),
               ("POST", "/app/signin/password"), ("POST", "/app/language")}  # fmt: skip


def cookie_attributes(set_cookie: str) -> dict[str, str]:
    parts = [p.strip() for p in set_cookie.split(";")]
    assert parts[0].startswith(COOKIE + "=")
    return {k.lower(): v for k, _, v in (p.partition("=") for p in parts[1:])}


def call(n: int, text: str, *, minutes_ago: int = 5) -> dict[str, Any]:
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return {"record_id": f"W-{n}", "channel": "phone", "received_at": at.isoformat(),
            "caller": {"name": f"Kişi {n}", "phone": f"+90 532 111 22 4{n}"}, "text": text}  # fmt: skip


def test_the_session_cookie_is_httponly_samesite_scoped_and_secure_over_tls(app: Scrm) -> None:
    plain = client(app).get("/app/signin")
    flags = cookie_attributes(plain.headers["set-cookie"])
    assert "httponly" in flags and flags["samesite"].lower() == "lax" and flags["path"] == "/app"
    assert "secure" not in flags
    tls = client(app, base_url="https://testserver").get("/app/signin")
    assert "secure" in cookie_attributes(tls.headers["set-cookie"])
    csp = plain.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert plain.headers["cache-control"] == "no-store"


def test_sign_in_needs_the_form_token_and_a_valid_key_and_sign_out_ends_it(
    app: Scrm, cli: Any
) -> None:
    seed_cases(app, cli)
    token = agent_key(app)
    c = client(app)
    c.get("/app/signin")
    r = c.post("/app/signin", data={"key": token}, follow_redirects=False)
    assert r.status_code == 403  # no CSRF token: a form from elsewhere
    csrf = csrf_of(c.get("/app/signin").text)
    r = c.post("/app/signin", data={"key": token + "x", "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 401 and "unknown or revoked" in r.text
    assert c.get("/app/inbox", follow_redirects=False).headers["location"] == "/app/signin"

    before = csrf_of(c.get("/app/signin").text)
    after = sign_in(c, token)
    assert after != before, "signing in starts a new session with a new token"
    assert c.get("/app/inbox").status_code == 200
    r = c.post("/app/signout", data={"csrf": after}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/signin"
    assert 'max-age=0' in r.headers["set-cookie"].lower()
    assert c.get("/app/inbox", follow_redirects=False).status_code == 303


def test_a_form_without_the_sessions_token_changes_nothing(app: Scrm, cli: Any) -> None:
    seed_cases(app, cli)
    c = client(app)
    sign_in(c, agent_key(app))
    other = client(app)
    foreign = sign_in(other, agent_key(app, agent="ece"))
    for data in ({"to": "resolved"}, {"to": "resolved", "csrf": foreign}, {"to": "resolved", "csrf": ""}):  # fmt: skip
        r = c.post("/app/cases/1/transition", data=data, follow_redirects=False)
        assert r.status_code == 403 and "did not come from this console" in r.text
    assert app.case(1).status == "new"


def test_a_tampered_cookie_or_a_revoked_key_signs_out(app: Scrm, cli: Any) -> None:
    seed_cases(app, cli)
    token = agent_key(app)
    c = client(app)
    sign_in(c, token)
    value = c.cookies.get(COOKIE)
    assert value is not None and token not in value, "the cookie never holds the key"
    c.cookies.set(COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"), path="/app")
    assert c.get("/app/inbox", follow_redirects=False).headers["location"] == "/app/signin"

    c = client(app)
    sign_in(c, token)
    with app.session() as s:
        s.execute(sa.update(ApiKey).values(revoked_at=datetime.now(UTC)))
    assert c.get("/app/inbox", follow_redirects=False).headers["location"] == "/app/signin"


def test_every_console_page_but_sign_in_needs_a_session(app: Scrm, cli: Any) -> None:
    seed_cases(app, cli)
    c = client(app)
    found = {(m, p) for m, p, _ in iter_routes(c.app) if p == "/app" or p.startswith("/app/")}  # type: ignore[arg-type]
    assert found == CONSOLE_ROUTES, "a console route was added or removed: list it here"
    for method, path in sorted(found - OPEN_TO_ALL):
        url = path.format(case_id=1, interaction_id=1, customer_id=1, alert_id=1)
        data = {"to": "resolved", "agent": "ece", "into": "2"}
        r = c.request(method, url, data=data, follow_redirects=False)
        assert (r.status_code, r.headers.get("location")) == (303, "/app/signin"), (method, path)
    assert app.case(1).status == "new"


def test_roles_and_departments_limit_the_console_as_the_rest_api(app: Scrm, cli: Any) -> None:
    seed_cases(app, cli)  # three support cases
    cli("agents", "add", "mert", "--department", "sales")
    reader = client(app)
    csrf = sign_in(reader, make_key(app, "readonly"))
    page = reader.get("/app/cases/1")
    assert page.status_code == 200 and "can read cases but not work them" in page.text
    assert "/transition" not in page.text and "/reply" not in page.text
    for path, data in (("/app/cases/1/transition", {"to": "resolved"}),
                       ("/app/cases/1/reply", {"template": "acknowledge"}),
                       ("/app/cases/1/assign", {"agent": "ece"}),
                       ("/app/interactions/1/labels", {"kind": "praise"})):  # fmt: skip
        r = reader.post(path, data={**data, "csrf": csrf})
        assert r.status_code == 403 and "role readonly may not do this" in r.text, path
    assert app.case(1).status == "new" and app.interaction(1).kind == "complaint"

    sales = client(app)
    csrf = sign_in(sales, agent_key(app, agent="mert", department="sales"))
    assert sales.get("/app/cases/1").status_code == 404
    r = sales.post("/app/cases/1/transition", data={"to": "resolved", "csrf": csrf})
    assert r.status_code == 404 and app.case(1).status == "new"
    r = sales.post("/app/interactions/1/labels", data={"kind": "praise", "csrf": csrf})
    assert r.status_code == 404
    inbox = sales.get("/app/inbox?view=department").text
    assert "/app/cases/1" not in inbox and 'data-view="department">My departments <span class="count">0' in inbox  # fmt: skip


def _events(app: Scrm, case_id: int) -> list[tuple[str, str, str | None, str | None, str | None]]:
    with app.session() as s:
        rows = s.execute(
            sa.select(CaseEvent.actor, CaseEvent.action, CaseEvent.from_value,
                      CaseEvent.to_value, CaseEvent.note)
            .where(CaseEvent.case_id == case_id, CaseEvent.action != "opened")
            .order_by(CaseEvent.id)
        )  # fmt: skip
        # A note may name the case's own message: the same words on both cases.
        return [(a, b, c, d, e and e.replace(f" {case_id},", " N,")) for a, b, c, d, e in rows]


def test_console_actions_leave_what_the_rest_api_leaves(app: Scrm, cli: Any) -> None:
    """The same four actions on two like cases, one through the console and one through the
    REST API with the same agent's key: the same events, the same label corrections."""
    seed_cases(app, cli)
    token = agent_key(app)
    c = client(app)
    csrf = sign_in(c, token)
    steps = [
        ("/app/cases/1/reply", {"template": "acknowledge"}),
        ("/app/cases/1/transition", {"to": "investigating", "note": "checking the courier"}),
        ("/app/cases/1/assign", {"agent": "ece"}),
        ("/app/interactions/1/labels", {"kind": "question", "category": "billing"}),
    ]
    for path, data in steps:
        r = c.post(path, data={**data, "csrf": csrf})
        assert r.status_code == 200 and r.url.path == "/app/cases/1", path
        assert flash_of(r.text) and "cannot" not in flash_of(r.text)[0], flash_of(r.text)

    api, key = c, auth(token)
    for path, body in (("/api/v1/cases/2/replies", {"template": "acknowledge"}),
                       ("/api/v1/cases/2/transitions", {"to": "investigating", "note": "checking the courier"}),
                       ("/api/v1/cases/2/assign", {"agent": "ece"}),
                       ("/api/v1/interactions/2/labels", {"kind": "question", "category": "billing"})):  # fmt: skip
        r = api.post(path, json=body, headers=key)
        assert r.status_code < 300, (path, r.text)

    assert _events(app, 1) == _events(app, 2)
    assert {(e[0], e[1]) for e in _events(app, 1)} == {
        ("system", "assign"), ("ece", "status"), ("ece", "reply_queued"), ("ece", "assign"),
        ("system", "relabelled"),
    }  # fmt: skip
    with app.session() as s:
        fixes = s.execute(
            sa.select(LabelCorrection.interaction_id, LabelCorrection.actor, LabelCorrection.kind)
            .order_by(LabelCorrection.interaction_id)
        ).all()
    assert [tuple(f) for f in fixes] == [(1, "ece", "question"), (2, "ece", "question")]


def test_a_refused_action_is_explained_on_the_case_page(app: Scrm, cli: Any) -> None:
    seed_cases(app, cli)
    c = client(app)
    csrf = sign_in(c, agent_key(app))
    r = c.post("/app/cases/1/transition", data={"to": "reopened", "csrf": csrf})
    assert r.url.path == "/app/cases/1"
    assert "it cannot go to reopened" in flash_of(r.text)[0]
    version = app.case(1).version
    r = c.post("/app/cases/1/transition", data={"to": "resolved", "version": version - 1, "csrf": csrf})  # fmt: skip
    assert "reload it and try again" in flash_of(r.text)[0] and app.case(1).status == "new"
    r = c.post("/app/cases/1/reply", data={"text": "a\x00b", "csrf": csrf})
    assert r.status_code == 422
    r = c.post("/app/cases/1/reply", data={"csrf": csrf})
    assert flash_of(r.text) == ["choose a template or write a text"]


def test_the_case_page_shows_times_in_the_configured_zone(app: Scrm, cli: Any) -> None:
    seed_cases(app, cli)  # calls received 2024-10-21 10:00 in Istanbul (+03:00)
    c = client(app)
    sign_in(c, agent_key(app))
    page = c.get("/app/cases/1").text
    assert app.config.timezone == "Europe/Istanbul"
    assert '<time datetime="2024-10-21T10:00+03:00">2024-10-21 10:00 +03</time>' in page
    assert "Times in Europe/Istanbul" in page
    utc = Scrm(app.config.model_copy(update={"timezone": "UTC"}), app.pm)
    try:
        c = client(utc)
        sign_in(c, agent_key(app))
        assert '<time datetime="2024-10-21T07:00+00:00">2024-10-21 07:00 UTC</time>' in c.get(
            "/app/cases/1"
        ).text
    finally:
        utc.close()


@pytest.fixture
def board(app: Scrm, cli: Any) -> Scrm:
    """Six open cases: support (2, assigned to ece), sales, marketing, rnd, and triage."""
    app.ingest_native("phone", [
        call(0, "Kargom gelmedi, berbat!", minutes_ago=60 * 24 * 3),
        call(1, "Fiyat teklifi almak istiyorum, 50 adet kurumsal sipariş"),
        call(2, "Merhaba"),
        call(3, "Harika bir ürün, teşekkürler!"),
        call(4, "Uygulamaya karanlık mod eklenebilir mi?"),
    ])  # fmt: skip
    app.ingest([{"channel": "twitter", "external_id": "t1", "text": "asdf qwer zxcv",
                 "created_at": datetime.now(UTC).isoformat(), "public": True,
                 "author": {"external_id": "u1", "handle": "zeyno"}}])  # fmt: skip
    cli("agents", "add", "ece", "--department", "support")
    return app


def test_worklists_hold_their_cases_soonest_deadline_first_with_counts(board: Scrm) -> None:
    now = datetime.now(UTC)
    with board.session() as s:
        everything = worklists.worklist(s, "department", now=now)
        counts = worklists.counts(s, agent="ece", now=now)
        mine = worklists.worklist(s, "mine", agent="ece", now=now)
        nobody = worklists.worklist(s, "mine", agent=None, now=now)
        unassigned = worklists.worklist(s, "unassigned", now=now)
        breaching = worklists.worklist(s, "breaching", now=now)
        triage = worklists.worklist(s, "triage", now=now)
        support = worklists.worklist(s, "department", departments=["support"], now=now)
        sales_leads = worklists.worklist(
            s, "department", filters=worklists.WorklistFilter(kind="lead"), now=now
        )
        found = worklists.worklist(
            s, "department", filters=worklists.WorklistFilter(search="Karanlık MOD"), now=now
        )
        by_name = worklists.worklist(
            s, "department", filters=worklists.WorklistFilter(search="kişi 3"), now=now
        )
        by_number = worklists.worklist(
            s, "department", filters=worklists.WorklistFilter(search="#1"), now=now
        )
        wildcards = [
            worklists.worklist(s, "department", filters=worklists.WorklistFilter(search=w))
            for w in ("%", "_", "\\", "#123456789012345678", "²")
        ]
        with pytest.raises(ValueError, match="no view 'late'"):
            worklists.worklist(s, "late")
    dues = [c.next_due for c in everything]
    assert len(everything) == 6 and dues == sorted(dues, key=lambda d: (d is None, d))
    # Adding the agent gave her the support queue: cases 1 and 3.
    assert [c.id for c in mine] == [1, 3] and mine[0].assignee == "ece" and nobody == []
    assert {c.id for c in unassigned} == {c.id for c in everything} - {1, 3}
    assert [c.id for c in breaching] == [1] and breaching[0].breaching
    assert [c.department for c in triage] == ["triage"]
    assert {c.department for c in support} == {"support"}
    assert [c.kind for c in sales_leads] == ["lead"]
    assert [c.subject for c in found] == ["Uygulamaya karanlık mod eklenebilir mi?"]
    assert [c.customer_name for c in by_name] == ["Kişi 3"] and [c.id for c in by_number] == [1]
    assert wildcards == [[]] * 5, "LIKE wildcards are matched literally; a huge number is none"
    assert counts == {"mine": 2, "department": 6, "unassigned": 4, "breaching": 1,
                      "waiting": 0, "triage": 1}  # fmt: skip


def test_the_inbox_page_lists_views_filters_and_refreshes(board: Scrm, cli: Any) -> None:
    c = client(board)
    sign_in(c, make_key(board, "admin"))
    page = c.get("/app/inbox?view=breaching").text
    assert 'data-view="breaching">Breaching <span class="count">1' in page
    assert 'href="/app/cases/1"' in page and 'href="/app/cases/2"' not in page
    assert 'data-poll="30"' in page and '<meta http-equiv="refresh" content="30">' in page
    part = c.get("/app/inbox?view=triage&partial=1")
    assert part.headers["x-console-fragment"] == "worklist" and "<html" not in part.text
    assert part.text.count('<tr class=') == 1
    assert c.get("/app/inbox?view=nope").status_code == 404
    filtered = c.get("/app/inbox?view=department&priority=low&q=merhaba").text
    assert filtered.count("<tr class=") == 1 and "priority=low&amp;q=merhaba&amp;view=mine" in filtered


def test_the_inbox_search_finds_a_customer_by_handle_email_or_phone(board: Scrm) -> None:
    board.ingest([{"channel": "email", "external_id": "<m1@example.com>", "text": "Faturam yanlış",
                   "created_at": datetime.now(UTC).isoformat(),
                   "author": {"external_id": "deniz.kaya@example.com",
                              "email": "Deniz.Kaya@Example.com"}}])  # fmt: skip
    c = client(board)
    sign_in(c, make_key(board, "admin"))

    def found(typed: str) -> set[str]:
        page = c.get("/app/inbox", params={"view": "department", "q": typed}).text
        return set(re.findall(r'href="/app/cases/(\d+)"', page))

    by_phone = found("+90 532 111 22 40")
    assert len(by_phone) == 1
    assert found("0532 111 22 40") == found("(532) 111-2240") == by_phone  # however written
    by_handle = found("@zeyno")
    assert len(by_handle) == 1 and found("Zeyno") == by_handle and by_handle != by_phone
    by_email = found("deniz.kaya@EXAMPLE.com")
    assert len(by_email) == 1 and not by_email & (by_phone | by_handle)
    assert found("@nobody") == found("0000000") == found("x@nowhere.example") == set()


def test_the_timeline_shows_a_delivered_reply_once_with_its_state_and_promises(
    app: Scrm, cli: Any
) -> None:
    seed_cases(app, cli)
    c = client(app)
    csrf = sign_in(c, agent_key(app))
    c.post("/app/cases/1/reply", data={"text": "Kargonuzu hemen soruyoruz.", "csrf": csrf})
    page = c.get("/app/cases/1").text
    assert page.count('class="entry reply"') == 1 and '<p class="delivery pending">' in page
    report = outbox.deliver(app)
    assert report.sent == 1, report
    case_service.promise(app, 1, timedelta(hours=4), actor="ece", kind="callback")
    page = c.get("/app/cases/1").text
    # Delivered, the reply is also the brand's message on the case: shown once, as sent.
    assert page.count("Kargonuzu hemen soruyoruz.") == 1
    assert '<p class="delivery sent">sent' in page and 'class="entry brand"' not in page
    assert page.count('class="entry promise"') == 1 and "Promise by ece: callback" in page
    assert 'data-clock="Promised follow-up"' in page


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    subject=st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=60),
    data=st.data(),
)
def test_any_part_of_a_subject_typed_as_written_finds_its_case(
    board: Scrm, subject: str, data: st.DataObject
) -> None:
    """Search is untrusted input: LIKE wildcards, quotes and any script are matched literally."""
    start = data.draw(st.integers(0, len(subject) - 1))
    part = subject[start : data.draw(st.integers(start + 1, len(subject)))]
    with board.session() as s:
        s.execute(sa.update(Case).where(Case.id == 2).values(subject=subject))
        found = worklists.worklist(s, "department", filters=worklists.WorklistFilter(search=part))
    assert 2 in [c.id for c in found]


def tweet(n: int, text: str, author: dict[str, Any], channel: str = "twitter") -> dict[str, Any]:
    at = datetime.now(UTC) - timedelta(minutes=60 - n)
    return {"channel": channel, "external_id": f"{channel}-{n}", "text": text,
            "created_at": at.isoformat(), "public": channel == "twitter", "author": author}  # fmt: skip


@pytest.fixture
def people(app: Scrm, cli: Any) -> Scrm:
    """Customers 1 and 2 look like one person (similar names on two channels); 3 and 4 too."""
    cli("agents", "add", "ece", "--department", "support")
    app.ingest([
        tweet(1, "Kargom gelmedi, berbat!", {"external_id": "tw9", "handle": "ayseyilmaz", "display_name": "Ayşe Yılmaz"}),
        tweet(2, "Siparişim hâlâ gelmedi", {"external_id": "fb9", "display_name": "ayse yilmaz"}, "facebook"),
        tweet(3, "Faturam iki kez kesildi!", {"external_id": "tw10", "handle": "mehmetdemir", "display_name": "Mehmet Demir"}),
        tweet(4, "Faturada hata var", {"external_id": "fb10", "display_name": "mehmet demir"}, "facebook"),
    ])  # fmt: skip
    with app.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Customer)) == 4
    return app


def _audit(app: Scrm, action: str) -> list[tuple[str, str | None, str | None, dict[str, Any]]]:
    with app.session() as s:
        rows = s.execute(
            sa.select(AuditEntry.actor, AuditEntry.target_type, AuditEntry.target_id,
                      AuditEntry.details).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )  # fmt: skip
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_the_customer_view_shows_identities_cases_and_duplicates_with_evidence(
    people: Scrm,
) -> None:
    c = client(people)
    sign_in(c, make_key(people, "admin"))
    case_id = people.customer(1) and people.case(1).customer_id
    assert f'href="/app/customers/{case_id}" id="customer-link"' in c.get("/app/cases/1").text
    page = c.get("/app/customers/1").text
    assert "Ayşe Yılmaz" in page and '<td data-label="Channel">twitter</td>' in page
    assert 'href="/app/cases/1"' in page and "CSAT: no rating yet" in page
    assert 'data-duplicate="2"' in page and "similar names" in page
    assert 'data-duplicate="3"' not in page, "only this customer's look-alikes"
    assert 'action="/app/customers/2/merge"' in page and 'id="merge-form"' in page
    assert c.get("/app/customers/99").status_code == 404


def test_merging_in_the_console_leaves_what_the_rest_api_leaves(people: Scrm) -> None:
    """Customer 2 merged into 1 through the console and 4 into 3 through the REST API with
    the same admin key: the same audit entries, the same records; then both undone."""
    token = make_key(people, "admin")
    c = client(people)
    csrf = sign_in(c, token)
    r = c.post("/app/customers/2/merge", data={"into": "1", "reason": "same person", "csrf": csrf})
    assert r.url.path == "/app/customers/1", flash_of(r.text)
    assert flash_of(r.text) == ["Customer 2 merged into 1; undo with Unmerge."]
    assert 'data-merged="2"' in r.text
    assert 'href="/app/cases/2"' in r.text, "the merged record's cases are the person's"
    r = c.post("/api/v1/customers/4/merge", json={"into": 3, "reason": "same person"},
               headers=auth(token))  # fmt: skip
    assert r.status_code == 200, r.text
    merges = _audit(people, "customer.merge")
    assert merges == [("key:admin", "customer", "2", {"into": 1, "reason": "same person"}),
                      ("key:admin", "customer", "4", {"into": 3, "reason": "same person"})]  # fmt: skip
    assert people.customer(2).merged_into_id == 1 and people.customer(4).merged_into_id == 3

    r = c.post("/app/customers/2/merge", data={"into": "1", "csrf": csrf})
    assert flash_of(r.text) == ["customer 2 is already merged into 1; unmerge it first"]
    assert len(_audit(people, "customer.merge")) == 2, "a refused merge is not audited"

    r = c.post("/app/customers/2/unmerge", data={"csrf": csrf})
    assert r.url.path == "/app/customers/2" and "its own record again" in flash_of(r.text)[0]
    assert c.post("/api/v1/customers/4/unmerge", headers=auth(token)).status_code == 200
    assert _audit(people, "customer.unmerge") == [
        ("key:admin", "customer", "2", {"from": 1, "cases_returned": []}),
        ("key:admin", "customer", "4", {"from": 3, "cases_returned": []}),
    ]
    assert people.customer(2).merged_into_id is None


def test_only_an_admin_merges_customers_and_only_with_the_form_token(people: Scrm) -> None:
    agent = client(people)
    csrf = sign_in(agent, agent_key(people))
    page = agent.get("/app/customers/1").text
    assert "Only an admin key can merge" in page and "/merge" not in page
    r = agent.post("/app/customers/2/merge", data={"into": "1", "csrf": csrf})
    assert r.status_code == 403 and "role agent may not do this" in r.text
    r = agent.post("/app/customers/2/unmerge", data={"csrf": csrf})
    assert r.status_code == 403
    admin = client(people)
    sign_in(admin, make_key(people, "admin"))
    r = admin.post("/app/customers/2/merge", data={"into": "1", "csrf": csrf})
    assert r.status_code == 403, "another session's token"
    assert people.customer(2).merged_into_id is None and _audit(people, "customer.merge") == []


def test_merging_and_splitting_cases_leave_what_the_cli_leaves(app: Scrm, cli: Any) -> None:
    """Case 2 merged into 1 in the console, case 5 into 4 with `scrm case merge`; then a
    message split out of each: the same events on the same shapes of cases."""
    seed_cases(app, cli)
    app.ingest_native("phone", [call(n, "Kargom gelmedi, berbat!") for n in (3, 4)])
    c = client(app)
    csrf = sign_in(c, agent_key(app))
    assert 'id="merge-case"' in c.get("/app/cases/2").text
    r = c.post("/app/cases/2/merge", data={"into": "1", "csrf": csrf})
    assert r.url.path == "/app/cases/1" and flash_of(r.text) == ["Case 2 merged into case 1."]
    cli("case", "merge", "5", "4", "--actor", "ece")
    assert app.case(2).merged_into_id == 1 and app.case(2).status == "closed"
    assert "Merged into" in c.get("/app/cases/2").text

    r = c.post("/app/interactions/2/move", data={"csrf": csrf})
    assert flash_of(r.text) == ["Message 2 split out into a case of its own."]
    split = int(r.url.path.rsplit("/", 1)[1])
    cli("case", "move", "5", "--actor", "ece")
    assert split == 6 and app.interaction(2).case_id == 6 and app.interaction(5).case_id == 7

    def shape(case_id: int, *others: int) -> list[tuple[Any, ...]]:
        out = []
        for event in _events(app, case_id):
            note = event[4] or ""
            for n, other in enumerate(others):
                note = note.replace(f"case {other}", f"case <{n}>").replace(f"message {other}", f"message <{n}>")  # fmt: skip
            out.append((*event[:4], note))
        return out

    assert shape(1, 2, 6) == shape(4, 5, 7) and shape(2, 1) == shape(5, 4)
    assert shape(6, 1, 2) == shape(7, 4, 5)
    assert ("ece", "merged", "new", "closed") in [e[:4] for e in _events(app, 2)]
    assert [e[1] for e in _events(app, 1)][-2:] == ["merged", "message_moved"]

    r = c.post("/app/interactions/1/move", data={"to": "1", "csrf": csrf})
    assert flash_of(r.text) == ["interaction 1 is already on case 1"]
    r = c.post("/app/cases/1/merge", data={"into": "1", "csrf": csrf})
    assert flash_of(r.text) == ["a case cannot be merged into itself"]
    r = c.post("/app/cases/1/merge", data={"into": "99", "csrf": csrf})
    assert r.status_code == 404 and app.case(1).merged_into_id is None


def test_linking_cases_to_an_incident_leaves_what_the_cli_leaves(app: Scrm, cli: Any) -> None:
    """Cases 1 and 2 linked in the console, 3 with `scrm case link`: one incident, one
    audit entry each, and the case page names the others."""
    seed_cases(app, cli)
    c = client(app)
    csrf = sign_in(c, agent_key(app))
    assert 'id="link-incident"' in c.get("/app/cases/1").text
    for case_id in (1, 2):
        r = c.post(f"/app/cases/{case_id}/incident", data={"incident": "fiber cut", "csrf": csrf})
        assert flash_of(r.text) == [f"Case {case_id} linked to incident fiber cut."]
    cli("case", "link", "3", "--incident", "fiber cut", "--actor", "ece")
    assert len({app.case(n).incident_id for n in (1, 2, 3)}) == 1
    page = c.get("/app/cases/2").text
    assert 'data-incident="fiber cut"' in page
    assert 'href="/app/cases/1"' in page and 'href="/app/cases/3"' in page
    links = _audit(app, "incident.link")
    assert [(who, details["cases"]) for who, _, _, details in links] == [
        ("ece", [1]), ("ece", [2]), ("ece", [3])
    ]  # fmt: skip
    r = c.post("/app/cases/1/incident", data={"incident": "  ", "csrf": csrf})
    assert r.status_code == 422
    reader = client(app)
    csrf = sign_in(reader, make_key(app, "readonly"))
    assert reader.post("/app/cases/1/incident", data={"incident": "x", "csrf": csrf}).status_code == 403


def test_case_merges_and_moves_need_a_worker_the_token_and_both_cases_in_scope(
    app: Scrm, cli: Any
) -> None:
    seed_cases(app, cli)
    cli("agents", "add", "mert", "--department", "sales")
    reader = client(app)
    csrf = sign_in(reader, make_key(app, "readonly"))
    assert reader.post("/app/cases/2/merge", data={"into": "1", "csrf": csrf}).status_code == 403
    assert reader.post("/app/interactions/2/move", data={"csrf": csrf}).status_code == 403
    sales = client(app)
    csrf = sign_in(sales, agent_key(app, agent="mert", department="sales"))
    assert sales.post("/app/cases/2/merge", data={"into": "1", "csrf": csrf}).status_code == 404
    assert sales.post("/app/interactions/2/move", data={"csrf": csrf}).status_code == 404
    agent = client(app)
    sign_in(agent, agent_key(app))
    assert agent.post("/app/interactions/2/move", data={"csrf": csrf}).status_code == 403
    assert app.case(2).merged_into_id is None and app.interaction(2).case_id == 2


BURST = [
    "@AcmeDestek 3 gündür internet yok, müşteri hizmetleri de açmıyor. Acme rezalet, herkes Rakip'e geçsin! #AcmeRezalet",
    "@AcmeDestek 3 gündür internetim yok, müşteri hizmetleri açmıyor. Acme tam rezalet, herkes Rakip'e geçsin #AcmeRezalet",
    "3 gündür internet yok!! @AcmeDestek müşteri hizmetleri de açmıyor, Acme rezalet herkes Rakip'e geçsin #AcmeRezalet",
    "@AcmeDestek 3 gundur internet yok, musteri hizmetleri de acmiyor. Acme rezalet, herkes Rakip'e gecsin! #AcmeRezalet",
]  # fmt: skip


def coordinated_burst(app: Scrm) -> None:
    """Eight near-duplicate complaints from new, unfollowed accounts: one coordinated alert."""
    now = datetime.now(UTC)
    app.ingest([
        {"channel": "twitter", "external_id": f"c{k}", "text": BURST[k % 4], "public": True,
         "created_at": (now - timedelta(minutes=30 - 2 * k)).isoformat(),
         "author": {"external_id": f"new{k}", "handle": f"h_new{k}", "followers": k % 4,
                    "account_created_at": (now - timedelta(days=2 + k)).isoformat()}}
        for k in range(8)
    ])  # fmt: skip


def test_alerts_are_listed_as_they_happen_and_acknowledged_with_an_audit_entry(
    app: Scrm, cli: Any
) -> None:
    # The burst's cases go to the review department: a key of it sees and takes the alert.
    cli("agents", "add", "ece", "--department", "support")
    with app.session() as s:
        ensure_departments(s, [("review", "Review")])
    c = client(app)
    csrf = sign_in(c, agent_key(app, department="review"))
    empty = c.get("/app/alerts?partial=1")
    assert empty.headers["x-console-alerts"] == "0" and "No alerts." in empty.text
    assert 'id="alert-count"' in c.get("/app/inbox").text, "every page shows the count"

    coordinated_burst(app)
    part = c.get("/app/alerts?partial=1")
    assert part.headers["x-console-fragment"] == "alerts" and "<html" not in part.text
    assert part.headers["x-console-alerts"] == "1"
    assert "Suspected coordinated complaints: 8 cases" in part.text
    alert_id = int(re.findall(r'data-alert="(\d+)"', part.text)[0])
    assert 'href="/app/cases/1"' in part.text and "Evidence" in part.text

    r = c.post(f"/app/alerts/{alert_id}/acknowledge", data={"note": "review takes it", "csrf": csrf})
    assert r.url.path == "/app/alerts" and flash_of(r.text) == [f"Alert {alert_id} acknowledged."]
    assert "Acknowledged by ece" in r.text and r.headers["x-console-alerts"] == "0"
    r = c.post(f"/app/alerts/{alert_id}/acknowledge", data={"csrf": csrf})
    assert flash_of(r.text) == [f"alert {alert_id} was already acknowledged by ece"]
    r = c.post("/app/alerts/99999/acknowledge", data={"csrf": csrf})
    assert r.status_code == 404 and "no alert 99999" in r.text
    assert _audit(app, "alert.acknowledge") == [
        ("ece", "alert", str(alert_id), {"kind": "coordinated", "note": "review takes it"})
    ]
    # The REST API reads the same feed and refuses the same second acknowledgement.
    key = auth(agent_key(app, department="review"))
    listed = c.get("/api/v1/alerts", headers=key).json()
    assert [(a["id"], a["kind"], a["acknowledged_by"]) for a in listed] == [(alert_id, "coordinated", "ece")]  # fmt: skip
    assert c.get("/api/v1/alerts?open=true", headers=key).json() == []
    r = c.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={}, headers=key)
    assert r.status_code == 409 and "already acknowledged by ece" in r.text


def test_only_a_worker_acknowledges_an_alert(app: Scrm, cli: Any) -> None:
    coordinated_burst(app)
    reader = client(app)
    csrf = sign_in(reader, make_key(app, "readonly"))
    page = reader.get("/app/alerts").text
    alert_id = int(re.findall(r'data-alert="(\d+)"', page)[0])
    assert "/acknowledge" not in page
    r = reader.post(f"/app/alerts/{alert_id}/acknowledge", data={"csrf": csrf})
    assert r.status_code == 403 and _audit(app, "alert.acknowledge") == []
    r = reader.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={},
                    headers=auth(make_key(app, "readonly", name="ro2")))  # fmt: skip
    assert r.status_code == 403 and _audit(app, "alert.acknowledge") == []
    # An admin's acknowledgement over REST leaves the entry the console's would.
    r = reader.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={"note": "on it"},
                    headers=auth(make_key(app, "admin")))  # fmt: skip
    assert r.status_code == 200 and r.json()["actor"] == "key:admin"
    assert _audit(app, "alert.acknowledge") == [
        ("key:admin", "alert", str(alert_id), {"kind": "coordinated", "note": "on it"})
    ]
    assert "Acknowledged by key:admin" in reader.get("/app/alerts").text


def test_the_report_page_frames_the_html_report_for_the_period_and_slice_picked(
    app: Scrm, cli: Any
) -> None:
    seed_cases(app, cli)  # calls of 2024-10-21
    c = client(app)
    sign_in(c, make_key(app, "readonly"))
    page = c.get("/app/reports?from=2024-10-01&to=2024-10-31&by=kind")
    assert page.status_code == 200 and 'href="/app/reports"' in page.text
    src = "/app/reports/view?from=2024-10-01&amp;to=2024-10-31&amp;by=kind"
    assert f'src="{src}"' in page.text and '<option selected>kind</option>' in page.text
    framed = c.get(src.replace("&amp;", "&"))
    assert framed.status_code == 200 and "scrm service report" in framed.text
    assert "sliced by kind" in framed.text
    begin, end = parse_period(since=None, start="2024-10-01", end="2024-10-31",
                              timezone=app.config.timezone, now=datetime.now(UTC))  # fmt: skip
    assert framed.text == render_html(generate_report(app, start=begin, end=end, by="kind", notify=False))  # fmt: skip
    assert "frame-ancestors 'self'" in framed.headers["content-security-policy"]
    assert "script-src" not in framed.headers["content-security-policy"]
    assert framed.headers["x-frame-options"] == "SAMEORIGIN"
    assert c.get("/app/reports?since=banana").status_code == 422
    assert c.get("/app/reports/view?by=nothing").status_code == 422

    agent = client(app)
    sign_in(agent, agent_key(app))
    assert 'href="/app/reports"' not in agent.get("/app/inbox").text
    assert agent.get("/app/reports").status_code == 403
    assert agent.get("/app/reports/view").status_code == 403


def test_the_inbox_filters_by_category_and_language_and_offers_the_shortcuts(
    board: Scrm,
) -> None:
    c = client(board)
    sign_in(c, make_key(board, "admin"))
    with board.session() as s:
        category = s.scalar(sa.select(Case.category).where(Case.id == 1))
        s.execute(sa.update(Case).where(Case.id == 2).values(language="en", category=category))
        same = set(s.scalars(sa.select(Case.id).where(Case.category == category)))
    assert same == {1, 2}, "only the two cases share the category"
    page = c.get(f"/app/inbox?view=department&category={category}").text
    assert set(map(int, re.findall(r'data-case="(\d+)"', page))) == {1, 2}
    assert f'<option value="{category}" selected>' in page
    english = c.get(f"/app/inbox?view=department&language=en&category={category}&partial=1").text
    assert re.findall(r'data-case="(\d+)"', english) == ["2"]
    assert "language=en" in english, "the view links keep the filters"
    assert 'id="shortcuts"' in page and "<kbd>j</kbd>" in page


def test_a_password_is_stored_as_a_salted_scrypt_hash_with_its_parameters() -> None:
    stored = passwords.hash_password("doğru at pil zımba")
    name, n, r, p, salt, digest = stored.split("$")
    assert (name, n, r, p) == ("scrypt", str(2**15), "8", "1") and len(digest) == 44 and len(salt) == 24
    assert "doğru" not in stored and passwords.hash_password("doğru at pil zımba") != stored
    assert passwords.verify_password("doğru at pil zımba", stored)
    assert not passwords.verify_password("doğru at pil zımbA", stored)
    for broken in (None, "", "scrypt$1$2", stored.replace("scrypt", "md5"), stored + "x",
                   "scrypt$1099511627776$8$1$AAAA$AAAA"):  # fmt: skip
        assert not passwords.verify_password("doğru at pil zımba", broken), broken
    for bad in ("short", "x" * 1025, "ten chars\x00!"):
        with pytest.raises(passwords.PasswordError):
            passwords.hash_password(bad)


def password_form(c: Any, username: str, password: str) -> Any:
    csrf = csrf_of(c.get("/app/signin").text)
    return c.post("/app/signin/password",
                  data={"username": username, "password": password, "csrf": csrf})  # fmt: skip


def test_an_agent_signs_in_with_the_password_an_admin_set(app: Scrm, cli: Any) -> None:
    seed_cases(app, cli)  # ece in support; three support cases
    cli("agents", "add", "mert", "--department", "sales")
    r = cli("agents", "password", "ece", "--password-stdin", "--actor", "boss", input="kargo-takip-42\n")
    assert "password of agent ece set" in r.stdout
    assert cli("agents", "password", "nobody", "--password-stdin", input="kargo-takip-42\n", expect=1)
    admin = auth(make_key(app, "admin"))
    c = client(app)
    r = c.put("/api/v1/agents/mert/password", json={"password": "satış-2024-ok"}, headers=admin)
    assert r.status_code == 204
    assert c.put("/api/v1/agents/mert/password", json={"password": "kısa"}, headers=admin).status_code == 422  # fmt: skip
    assert c.put("/api/v1/agents/yok/password", json={"password": "satış-2024-ok"}, headers=admin).status_code == 404  # fmt: skip
    r = c.put("/api/v1/agents/mert/password", json={"password": "satış-2024-ok"},
              headers=auth(agent_key(app)))  # fmt: skip
    assert r.status_code == 403
    assert [(a, t) for a, _, t, _ in _audit(app, "agent.password")] == [("boss", "ece"), ("key:admin", "mert")]  # fmt: skip
    assert all(d == {} for *_, d in _audit(app, "agent.password")), "no secret in the audit log"

    for user, pw in (("ece", "kargo-takip-43"), ("nobody", "kargo-takip-42"), ("ece", "")):
        r = password_form(client(app), user, pw)
        assert r.status_code == 401 and "do not match" in r.text
    r = password_form(c, "ece", "kargo-takip-42")
    assert r.url.path == "/app/inbox" and flash_of(r.text) == ["Signed in as ece (agent)."]
    assert "ece · agent" in r.text and 'href="/app/cases/1"' in r.text
    value = c.cookies.get(COOKIE)
    assert value is not None and "kargo" not in value
    r = c.post("/app/cases/1/transition", data={"to": "investigating", "csrf": csrf_of(r.text)})
    assert flash_of(r.text) == ["Case 1 moved to investigating."]
    assert ("ece", "status", "investigating") in [(e.actor, e.action, e.to_value) for e in app.case(1).events]  # fmt: skip

    sales = client(app)
    password_form(sales, "mert", "satış-2024-ok")
    assert sales.get("/app/cases/1").status_code == 404, "an agent sees their department only"

    cli("agents", "password", "ece", "--password-stdin", input="yeni-parola-2025\n")
    assert c.get("/app/inbox", follow_redirects=False).headers["location"] == "/app/signin"


def test_the_interface_speaks_turkish_or_english_as_the_agent_picks(app: Scrm, cli: Any) -> None:
    seed_cases(app, cli)
    c = client(app)
    page = c.get("/app/signin", headers={"Accept-Language": "tr-TR,tr;q=0.9,en;q=0.8"}).text
    assert '<html lang="tr">' in page and "<h1>Giriş yap</h1>" in page and "API anahtarı" in page
    assert '<html lang="en">' in c.get("/app/signin", headers={"Accept-Language": "de, en;q=0.5"}).text  # fmt: skip
    r = c.post("/app/signin", data={"key": "scrm_nope", "csrf": csrf_of(page)},
               headers={"Accept-Language": "tr"})  # fmt: skip
    assert r.status_code == 401 and "Bu API anahtarı bilinmiyor" in r.text
    csrf = sign_in(c, agent_key(app))
    inbox = c.get("/app/inbox", headers={"Accept-Language": "en"}).text
    assert ">Inbox</a>" in inbox and 'data-view="mine">My cases' in inbox
    r = c.post("/app/language", data={"lang": "tr", "csrf": csrf},
               headers={"Referer": "http://testserver/app/cases/1?x=1"}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/app/cases/1?x=1"
    case = c.get("/app/cases/1", headers={"Accept-Language": "en"}).text  # the choice wins
    assert '<html lang="tr">' in case and "<h2>Zaman çizelgesi</h2>" in case
    assert "Yanıtı gönder" in case and "İlk yanıt" in case and " önce)" in case
    r = c.post("/app/cases/1/transition", data={"to": "investigating", "csrf": csrf})
    assert flash_of(r.text) == ["Vaka 1 şimdi: investigating."], "the console's own words too"
    inbox = c.get("/app/inbox").text
    assert 'data-view="mine">Vakalarım <span class="count">3' in inbox
    assert "Vakalarım: 3 açık vaka, en yakın süre önce." in inbox
    r = c.post("/app/language", data={"lang": "en", "csrf": csrf},
               headers={"Referer": "http://elsewhere.example/app/cases/1"}, follow_redirects=False)  # fmt: skip
    assert r.headers["location"] == "/app/inbox", "only a page of this console is returned to"
    assert "<h2>Timeline</h2>" in c.get("/app/cases/1").text
    assert c.post("/app/language", data={"lang": "de", "csrf": csrf}).status_code == 422


def test_the_services_refusals_are_shown_in_the_interface_language(app: Scrm, cli: Any) -> None:
    seed_cases(app, cli)
    c = client(app)
    c.headers["Accept-Language"] = "tr"
    csrf = sign_in(c, agent_key(app))
    r = c.post("/app/cases/1/transition", data={"to": "reopened", "csrf": csrf})
    assert flash_of(r.text) == ["vaka 1 şu an new: reopened durumuna geçemez; geçebileceği "
                                "durumlar: acknowledged, contacted, investigating, "
                                "solution_proposed, resolved, closed"]  # fmt: skip
    version = app.case(1).version
    r = c.post("/app/cases/1/transition", data={"to": "resolved", "version": version - 1, "csrf": csrf})  # fmt: skip
    assert flash_of(r.text) == [f"vaka 1 sürüm {version - 1} değil, {version}: sayfayı yenileyip yeniden deneyin"]  # fmt: skip
    r = c.post("/app/cases/1/merge", data={"into": "1", "csrf": csrf})
    assert flash_of(r.text) == ["bir vaka kendisiyle birleştirilemez"]
    r = c.post("/app/cases/1/assign", data={"agent": "yok", "csrf": csrf})
    assert flash_of(r.text) == ["&#39;yok&#39; adında temsilci yok; `scrm agents add` ile ekleyin"]
    assert "formun süresi dolmuş" in c.post("/app/cases/1/transition", data={"to": "resolved"}).text
    page = c.get("/app/cases/99")
    assert page.status_code == 404 and "99 numaralı vaka yok" in page.text
    reader = client(app)
    reader.headers["Accept-Language"] = "tr"
    csrf = sign_in(reader, make_key(app, "readonly"))
    r = reader.post("/app/cases/1/transition", data={"to": "resolved", "csrf": csrf})
    assert r.status_code == 403 and "readonly rolündeki bir anahtar bunu yapamaz" in r.text
    english = client(app)
    csrf = sign_in(english, agent_key(app))
    r = english.post("/app/cases/1/merge", data={"into": "1", "csrf": csrf})
    assert flash_of(r.text) == ["a case cannot be merged into itself"]


def test_a_refusal_is_translated_from_its_template_and_its_values_put_in() -> None:
    from scrm.core.errors import N_, NotFound
    from scrm.core.replies import AnswerElsewhere
    from scrm.server.console import i18n

    def shown(exc: Any, lang: str) -> str:
        return i18n.translations(lang).gettext(exc.message) % exc.params

    assert shown(NotFound(N_("no case %(id)s"), id=12), "tr") == "12 numaralı vaka yok"
    elsewhere = AnswerElsewhere(4, "feeds", "https://x.example/p")
    assert shown(elsewhere, "tr").startswith("vaka 4, ") and "https://x.example/p" in shown(elsewhere, "tr")
    assert shown(elsewhere, "en") == str(elsewhere)
    unknown = NotFound(N_("a refusal added after the catalogue %(id)s"), id=3)
    assert shown(unknown, "tr") == "a refusal added after the catalogue 3" == str(unknown)


def test_the_turkish_catalogue_translates_every_word_of_the_templates() -> None:
    """`make console-messages` was run after the templates changed, and nothing is left
    untranslated: the extracted words are the catalogue's, and the compiled file is current."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    from scrm.server.console import i18n

    # As `make console-messages` extracts: the whole package, so that the message templates of
    # the errors the services raise (marked N_ where raised) are in the catalogue too.
    package = Path(scrm.__file__).parent
    method_map = [("**.py", "python"), ("server/console/templates/**.html", "jinja2")]
    options = {"server/console/templates/**.html": {"extensions": "jinja2.ext.i18n",
               "trim_blocks": "true", "lstrip_blocks": "true"}}  # fmt: skip
    found = {m[2] for m in extract_from_dir(str(package), method_map, options, keywords={"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "t": None})}  # fmt: skip
    found = {m if isinstance(m, str) else tuple(m) for m in found}
    base = i18n.locale_dir() / "tr" / "LC_MESSAGES"
    with open(base / "console.po", "rb") as f:
        po = read_po(f, locale="tr")
    with open(base / "console.mo", "rb") as f:
        mo = read_mo(f)
    ids = {m.id for m in po if m.id}
    assert found == ids, "run make console-messages"
    untranslated = [m.id for m in po if m.id and not (all(m.string) if isinstance(m.string, tuple) else m.string)]  # fmt: skip
    assert untranslated == []
    # A translation keeps its template's parts: the values go in whatever the language.
    assert [(m.id, [str(e) for e in errors]) for m, errors in po.check()] == []
    def pairs(catalog: Any) -> dict[Any, Any]:
        flat = lambda v: tuple(v) if isinstance(v, (list, tuple)) else v  # noqa: E731
        return {flat(m.id): flat(m.string) for m in catalog if m.id}

    assert pairs(po) == pairs(mo), "run make console-messages: console.mo is older than console.po"
