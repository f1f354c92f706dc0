"""The console's brand switcher: the agency's people limit every page to one brand.

An agent or key of no brand sees every brand's cases; the switcher in the page header limits
the inbox, cases, customers, alerts and reports to the brand picked, through the same brand
scoping as a brand's own key, for the rest of the session.  A brand's own people have no
switcher and are refused when they post to it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from consolekit import client, csrf_of, flash_of, sign_in
from helpers import message
from serverkit import SERVER_KEY, make_key

from scrm.core.app import Scrm
from scrm.core.config import Config
from scrm.core.dispatch import record
from scrm.core.events import CoordinatedDetected
from scrm.core.models import StoredEvent

BRANDS = {
    "acme": {"name": "Acme Kargo", "accounts": {"twitter": ["acme_tr"]}},
    "globex": {"name": "Globex Bank", "accounts": {"twitter": ["globex"]}},
}
REPORT = "/app/reports/view?from=2024-10-01&to=2024-10-31&by=brand"


@pytest.fixture
def brands() -> dict[str, Any]:
    return BRANDS


@pytest.fixture
def scrm_config(scrm_database_url: str, brands: dict[str, Any]) -> Config:
    return Config(
        database_url=scrm_database_url,
        server={"secret_key": SERVER_KEY, "deliver_interval": 0},
        brands=brands,
    )


def _cases_of(app: Scrm, brand: str) -> set[int]:
    return {c.id for c in app.for_brand(brand).cases()}


@pytest.fixture
def two_brands(app: Scrm) -> dict[str, set[int]]:
    """Three complaints to Acme and two to Globex, and an alert about a Globex case."""
    app.ingest(
        [message(f"a{n}", f"Kargom {n} gelmedi, berbat!", account="acme_tr", author=f"a{n}")
         for n in range(3)]
        + [message(f"g{n}", f"Kartımdan {n} kez para çekildi, berbat!", account="globex",
                   author=f"g{n}") for n in range(2)]
    )  # fmt: skip
    cases = {"acme": _cases_of(app, "acme"), "globex": _cases_of(app, "globex")}
    assert len(cases["acme"]) == 3 and len(cases["globex"]) == 2
    with app.session() as s:
        batch = record(s, [CoordinatedDetected(case_ids=[min(cases["globex"])], evidence={})])
        assert s.scalar(sa.select(StoredEvent.id).where(StoredEvent.batch_id == batch))
    return cases


def _listed(html: str) -> set[int]:
    """The cases a page links to."""
    return {int(n) for n in re.findall(r'href="/app/cases/(\d+)"', html)}


def _received(report: str) -> list[str]:
    """The report's messages in per brand (acme, globex) and in all (its slice table's row)."""
    assert "<th>metric</th><th>acme</th><th>globex</th><th>all</th>" in report
    found = re.search(r"<tr><td>in</td>((?:<td>\d+</td>)+)</tr>", report)
    assert found, "the report has no row of messages in"
    return re.findall(r"<td>(\d+)</td>", found.group(1))


def _pick(c: object, csrf: str, brand: str, page: str = "/app/inbox") -> object:
    return c.post(
        "/app/brand", data={"brand": brand, "csrf": csrf},
        headers={"Referer": f"http://testserver{page}"},
    )  # fmt: skip


def test_the_agency_admin_limits_every_page_to_the_brand_picked(
    app: Scrm, two_brands: dict[str, set[int]]
) -> None:
    acme, globex = two_brands["acme"], two_brands["globex"]
    c = client(app)
    csrf = sign_in(c, make_key(app, "admin", name="agency"))
    inbox = c.get("/app/inbox").text
    assert 'id="brand-pick"' in inbox and ">Acme Kargo</option>" in inbox
    assert '<option value="">All brands</option>' in inbox
    assert _listed(inbox) == acme | globex
    assert _received(c.get(REPORT).text) == ["3", "2", "5"]  # acme, globex, all
    assert _listed(c.get("/app/alerts").text) == {min(globex)}

    r = _pick(c, csrf, "acme")
    assert r.status_code == 200 and r.url.path == "/app/inbox"
    assert flash_of(r.text) == ["Showing brand Acme Kargo."]
    assert '<option value="acme" selected>' in r.text
    # The choice is the session's: every page after it shows Acme's data only.
    assert _listed(c.get("/app/inbox").text) == acme
    assert _listed(c.get("/app/inbox?view=unassigned").text) == acme
    assert c.get(f"/app/cases/{min(acme)}").status_code == 200
    assert c.get(f"/app/cases/{min(globex)}").status_code == 404
    globex_customer = app.for_brand("globex").case(min(globex)).customer_id
    assert c.get(f"/app/customers/{globex_customer}").status_code == 404
    assert _listed(c.get("/app/alerts").text) == set(), "the alert is about a Globex case"
    assert _received(c.get(REPORT).text) == ["3", "0", "3"]
    # What the admin does is done in the brand picked: another brand's case is not found.
    r = c.post(f"/app/cases/{min(globex)}/transition", data={"to": "acknowledged", "csrf": csrf})
    assert r.status_code == 404 and app.case(min(globex)).status == "new"

    # From a case page, the switch lands on the inbox (the case may be of the brand left).
    r = _pick(c, csrf, "globex", f"/app/cases/{min(acme)}")
    assert r.url.path == "/app/inbox" and _listed(r.text) == globex
    r = _pick(c, csrf, "", "/app/alerts")
    assert r.url.path == "/app/alerts" and flash_of(r.text) == ["Showing every brand."]
    assert _listed(c.get("/app/inbox").text) == acme | globex


def test_a_brand_agent_has_no_switcher_and_cannot_use_it(
    app: Scrm, two_brands: dict[str, set[int]]
) -> None:
    c = client(app)
    c.headers["Accept-Language"] = "tr"
    csrf = sign_in(c, make_key(app.for_brand("globex"), "admin", name="globex-admin"))
    inbox = c.get("/app/inbox").text
    assert 'id="brand-pick"' not in inbox and _listed(inbox) == two_brands["globex"]
    for brand in ("acme", "globex", ""):
        r = _pick(c, csrf, brand)
        assert r.status_code == 403, brand
        assert "anahtarınız tek bir markaya ait" in r.text
    assert _listed(c.get("/app/inbox").text) == two_brands["globex"]
    assert c.get(f"/app/cases/{min(two_brands['acme'])}").status_code == 404


def test_the_switcher_speaks_turkish_and_refuses_an_unknown_brand(
    app: Scrm, two_brands: dict[str, set[int]]
) -> None:
    c = client(app)
    c.headers["Accept-Language"] = "tr"
    csrf = sign_in(c, make_key(app, "admin", name="agency"))
    inbox = c.get("/app/inbox").text
    assert '<option value="">Tüm markalar</option>' in inbox and ">Marka</label>" in inbox
    r = _pick(c, csrf, "initech")
    assert r.status_code == 404
    assert "&#39;initech&#39; adında marka yok; markalar: acme, default, globex" in r.text
    r = _pick(c, csrf, "acme")
    assert flash_of(r.text) == ["Acme Kargo markası gösteriliyor."]
    assert csrf_of(r.text) == csrf
    # Without the form's token the choice is refused.
    r = c.post("/app/brand", data={"brand": ""})
    assert r.status_code == 403 and _listed(c.get("/app/inbox").text) == two_brands["acme"]


@pytest.mark.parametrize("brands", [{}])
def test_a_single_brand_installation_shows_no_switcher(app: Scrm) -> None:
    app.ingest([message("x1", account="anything")])
    c = client(app)
    sign_in(c, make_key(app, "admin"))
    assert 'id="brand-pick"' not in c.get("/app/inbox").text
