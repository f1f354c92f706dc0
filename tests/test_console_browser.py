"""The agent console in a real headless Chromium (Playwright driving the system browser).

One browser for the module; each test gets a fresh context (no shared cookies).
Screenshots of the inbox and a case at 1280 px and 390 px go to a temporary folder, or to
``$SCRM_CONSOLE_SCREENSHOTS`` when set (docs/img holds copies).  Skips with the reason when
Playwright or the browser is missing (tests/browserkit.py installs Debian's ``chromium``
when it can):
Playwright never downloads a browser of its own here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from browserkit import chromium
from consolekit import agent_key
from serverkit import live_server, make_key, scrm_config, seed_cases  # noqa: F401

from scrm.core.app import Scrm

WIDE, PHONE = (1280, 900), (390, 844)


# Module scope, not session: Playwright's sync API keeps an event loop running in this
# thread while it is open, and later tests' asyncio.run() would refuse to start.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[test]')"
    )
    executable = chromium()  # installed when missing, as make test installs PostgreSQL
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("SCRM_CONSOLE_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("console-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": WIDE[0], "height": WIDE[1]})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def sign_in(page: Any, base: str, token: str) -> None:
    page.goto(f"{base}/app/inbox")
    assert page.url.endswith("/app/signin"), "signed out: the inbox sends to the sign-in page"
    page.get_by_label("API key").fill(token)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(re.compile(r"/app/inbox"))


def shoot(page: Any, shots: Path, name: str) -> None:
    for width, height in (WIDE, PHONE):
        page.set_viewport_size({"width": width, "height": height})
        path = shots / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=False)
        assert path.stat().st_size > 1000
    page.set_viewport_size({"width": WIDE[0], "height": WIDE[1]})


def flash(page: Any) -> str:
    return str(page.locator(".flash").inner_text())


def test_an_agent_works_a_breaching_case_through_the_loop(
    app: Scrm, cli: Any, page: Any, shots: Path
) -> None:
    seed_cases(app, cli)  # three phone complaints from 2024, long past their deadlines
    app.ingest([{"channel": "twitter", "external_id": "t1", "text": "asdf qwer zxcv",
                 "created_at": "2024-10-22T09:00:00+00:00", "public": True,
                 "author": {"external_id": "u1", "handle": "zeyno"}}])  # fmt: skip
    token = agent_key(app)
    with live_server(app) as base:
        sign_in(page, base, token)
        assert "Signed in as ece (agent)" in flash(page)
        shoot(page, shots, "inbox")

        # A new complaint appears on the next refresh round, without reloading the page.
        assert page.locator("tr[data-case]").count() == 3
        page.evaluate("window.stayed = true")
        app.ingest_native("phone", [{"record_id": "NEW-1", "channel": "phone",
                          "received_at": datetime.now(UTC).isoformat(), "text": "Faturam iki kez kesildi!",
                          "caller": {"name": "Deniz", "phone": "+90 532 999 00 11"}}])  # fmt: skip
        page.evaluate("window.scrmConsole.refresh()")
        assert page.locator("tr[data-case]").count() == 4
        assert page.evaluate("window.stayed") is True

        page.locator('a[data-view="breaching"]').click()
        page.wait_for_url(re.compile(r"view=breaching"))
        assert page.locator("tr.breaching").count() == 3
        page.locator("tr.breaching a").first.click()
        page.wait_for_url(re.compile(r"/app/cases/\d+$"))
        case_id = int(page.url.rsplit("/", 1)[1])
        first = page.locator('li[data-clock="First response"]')
        assert "breached" in first.get_attribute("class")
        assert "2024-10-21 10:00" in page.locator(".timeline").inner_text()  # Istanbul time
        shoot(page, shots, "case")

        # Reply with the playbook's acknowledgement: queued, and the case moves on.
        preview = page.locator("label.template", has_text="acknowledge").inner_text()
        page.get_by_role("radio", name=re.compile("acknowledge")).check()
        page.get_by_role("button", name="Send template").click()
        assert "Reply queued" in flash(page)
        assert page.locator("#status").inner_text() == "acknowledged"
        reply = page.locator("li.entry.reply").last
        assert "pending" in reply.inner_text() and "template acknowledge" in reply.inner_text()
        assert preview.split("acknowledge", 1)[1].strip()[:40] in reply.inner_text()

        # Resolve it: the resolution clock stops, met.
        resolution = page.locator('li[data-clock="Resolution"]')
        assert "met" not in resolution.get_attribute("class")
        page.locator('button[data-to="resolved"]').click()
        assert f"Case {case_id} moved to resolved" in flash(page)
        assert page.locator("#status").inner_text() == "resolved"
        assert re.search(r"\b(met|late)\b", resolution.get_attribute("class"))

        # Correct the classification of the customer's message.
        page.locator("details.relabel summary").first.click()
        form = page.locator("details.relabel form").first
        form.get_by_label("Kind").select_option("question")
        form.get_by_role("button", name="Save labels").click()
        assert "relabelled: kind=question" in flash(page)
        assert app.interaction(case_id).kind == "question"  # phone calls: ids line up

        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(r"/app/signin$"))
        page.goto(f"{base}/app/cases/{case_id}")
        assert page.url.endswith("/app/signin")
    events = [(e.actor, e.action, e.to_value) for e in app.case(case_id).events]
    assert ("ece", "status", "acknowledged") in events and ("ece", "status", "resolved") in events


def test_a_role_without_rights_is_refused_in_the_browser(app: Scrm, cli: Any, page: Any) -> None:
    seed_cases(app, cli)
    cli("agents", "add", "mert", "--department", "sales")
    with live_server(app) as base:
        sign_in(page, base, make_key(app, "readonly"))
        page.goto(f"{base}/app/cases/1")
        assert "can read cases but not work them" in page.inner_text("main")
        assert page.locator('button[data-to]').count() == 0
        # The forms are not offered; posting one anyway (with a valid token) is refused.
        csrf = page.locator('form[action="/app/signout"] input[name="csrf"]').get_attribute("value")
        r = page.request.post(
            f"{base}/app/cases/1/transition", form={"to": "resolved", "csrf": csrf}
        )
        assert r.status == 403 and "role readonly may not do this" in r.text()
        assert app.case(1).status == "new"
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(r"/app/signin$"))

        sign_in(page, base, agent_key(app, agent="mert", department="sales"))
        response = page.goto(f"{base}/app/cases/1")
        assert response.status == 404 and "no case 1" in page.inner_text("main")


def test_an_admin_merges_two_customers_from_the_customer_view(
    app: Scrm, cli: Any, page: Any, shots: Path
) -> None:
    cli("agents", "add", "ece", "--department", "support")
    app.ingest([
        {"channel": "twitter", "external_id": "t1", "text": "Kargom gelmedi, berbat!",
         "created_at": "2024-10-22T09:00:00+00:00", "public": True,
         "author": {"external_id": "u1", "handle": "ayseyilmaz", "display_name": "Ayşe Yılmaz"}},
        {"channel": "facebook", "external_id": "f1", "text": "Siparişim hâlâ gelmedi",
         "created_at": "2024-10-22T10:00:00+00:00", "public": False,
         "author": {"external_id": "fb9", "display_name": "ayse yilmaz"}},
    ])  # fmt: skip
    with live_server(app) as base:
        sign_in(page, base, make_key(app, "admin"))
        page.goto(f"{base}/app/cases/1")
        page.locator("#customer-link").click()
        page.wait_for_url(re.compile(r"/app/customers/1$"))
        assert "similar names" in page.locator('li[data-duplicate="2"]').inner_text()
        shoot(page, shots, "customer")
        page.get_by_role("button", name="Merge #2 into this record").click()
        assert "Customer 2 merged into 1" in flash(page)
        assert page.locator('li[data-merged="2"]').count() == 1
        assert page.locator('#identities tr[data-identity]').count() == 2
        assert page.locator('#customer-cases tr[data-case]').count() == 2
        page.locator('li[data-merged="2"]').get_by_role("button", name="Unmerge").click()
        assert "Customer 2 is its own record again" in flash(page)
    assert app.customer(2).merged_into_id is None


def test_the_inbox_is_worked_from_the_keyboard(app: Scrm, cli: Any, page: Any) -> None:
    seed_cases(app, cli)
    with live_server(app) as base:
        sign_in(page, base, agent_key(app))
        help_box = page.locator("#shortcuts")
        assert help_box.is_visible() and help_box.get_attribute("open") is None
        page.keyboard.press("?")
        assert help_box.get_attribute("open") is not None
        assert "next / previous case" in help_box.inner_text()
        page.keyboard.press("Escape")
        rows = page.locator("tr[data-case]")
        page.keyboard.press("j")
        page.keyboard.press("j")
        page.keyboard.press("k")
        first = rows.nth(0).get_attribute("data-case")
        assert page.locator("tr.selected").get_attribute("data-case") == first
        page.evaluate("window.scrmConsole.refresh()")  # the selection survives a refresh
        assert page.locator("tr.selected").get_attribute("data-case") == first
        page.keyboard.press("a")
        page.wait_for_url(re.compile(rf"/app/cases/{first}#assign$"))
        assert page.evaluate("document.activeElement.id") == "assign-agent"
        page.evaluate("document.activeElement.blur()")
        page.keyboard.press("r")
        assert page.evaluate("document.activeElement.id") == "reply-body"
        page.keyboard.type("jk?")  # typed into the reply, not taken as keys
        assert page.locator("#reply-body").input_value() == "jk?"

        # The agent switches the interface to Turkish: the same page, in Turkish.
        page.locator("#lang-pick").select_option("tr")
        page.locator("form.lang button").click()
        page.wait_for_url(re.compile(rf"/app/cases/{first}#?\w*$"))
        assert page.locator("html").get_attribute("lang") == "tr"
        assert "Zaman çizelgesi" in page.inner_text("main")
        page.get_by_role("link", name="Gelen kutusu").first.click()
        assert page.locator('a[data-view="mine"]').inner_text().startswith("Vakalarım")
