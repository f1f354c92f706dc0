"""Each agent reads the console's times in their own time zone: set by an admin (`scrm agents
add --timezone`, `PUT /api/v1/agents/{username}`) or by the agent in the console, validated
as an IANA name, and falling back to the configured `timezone`."""

from __future__ import annotations

import json
import re
from typing import Any

from consolekit import agent_key, client, csrf_of, flash_of, sign_in
from serverkit import auth, make_key, seed_cases
from test_console import _audit

from scrm.core.app import Scrm


def first_time(page: str) -> tuple[str, str]:
    """The first timeline time of a case page: its ``datetime`` and the text shown."""
    found = re.search(r'<li class="entry message">\s*<time datetime="([^"]+)">([^<]+)</time>', page)
    assert found, page[:500]
    return found.group(1), found.group(2)


def test_two_agents_see_the_same_case_in_their_own_time_zones(app: Scrm, cli: Any) -> None:
    seed_cases(app, cli)  # calls received 2024-10-21 10:00 in Istanbul (07:00 UTC)
    cli("agents", "add", "deniz", "--department", "support", "--timezone", "America/New_York")
    admin = auth(make_key(app, "admin"))
    api = client(app)
    r = api.put("/api/v1/agents/ece", json={"department": "support", "timezone": "Europe/Berlin"},
                headers=admin)  # fmt: skip
    assert r.status_code == 200 and r.json()["agent"]["timezone"] == "Europe/Berlin"
    listed = {a["username"]: a["timezone"] for a in json.loads(cli("agents", "list", "--json").stdout)}
    assert listed == {"ece": "Europe/Berlin", "deniz": "America/New_York"}

    ece, deniz, reader = client(app), client(app), client(app)
    sign_in(ece, agent_key(app, agent="ece"))
    sign_in(deniz, agent_key(app, agent="deniz"))
    sign_in(reader, make_key(app, "readonly"))  # acts as no agent: the configured zone
    pages = {name: c.get("/app/cases/1").text for name, c in
             (("ece", ece), ("deniz", deniz), ("reader", reader))}  # fmt: skip
    assert first_time(pages["ece"]) == ("2024-10-21T09:00+02:00", "2024-10-21 09:00 CEST")
    assert first_time(pages["deniz"]) == ("2024-10-21T03:00-04:00", "2024-10-21 03:00 EDT")
    assert first_time(pages["reader"]) == ("2024-10-21T10:00+03:00", "2024-10-21 10:00 +03")
    assert "Times in Europe/Berlin" in pages["ece"] and "Times in America/New_York" in pages["deniz"]
    assert "Times in Europe/Istanbul" in pages["reader"]


def test_a_time_zone_must_be_an_iana_name(app: Scrm, cli: Any) -> None:
    seed_cases(app, cli)
    r = cli("agents", "add", "deniz", "--timezone", "Mars/Olympus", expect=2)
    assert "unknown time zone 'Mars/Olympus'" in r.stderr
    admin = auth(make_key(app, "admin"))
    for bad in ("Mars/Olympus", "../../etc/passwd", "", "x" * 65):
        r = client(app).put("/api/v1/agents/ece", json={"timezone": bad}, headers=admin)
        assert r.status_code == 422, bad
    assert app.config.timezone == "Europe/Istanbul"


def test_an_agent_picks_their_time_zone_in_the_console(app: Scrm, cli: Any) -> None:
    seed_cases(app, cli)
    c = client(app)
    sign_in(c, agent_key(app))
    page = c.get("/app/settings").text
    assert 'id="timezone-form"' in page and "<option>Asia/Tokyo</option>" in page
    csrf = csrf_of(page)
    r = c.post("/app/settings/timezone", data={"timezone": "Asia/Tokyo", "csrf": csrf})
    assert flash_of(r.text) == ["Times are now shown in Asia/Tokyo."]
    assert first_time(c.get("/app/cases/1").text) == ("2024-10-21T16:00+09:00", "2024-10-21 16:00 JST")
    r = c.post("/app/settings/timezone", data={"timezone": "Asia/Atlantis", "csrf": csrf})
    assert flash_of(r.text) == ["unknown time zone &#39;Asia/Atlantis&#39;: use an IANA name "
                                "such as &#39;Europe/Istanbul&#39; or &#39;UTC&#39;"]  # fmt: skip
    r = c.post("/app/settings/timezone", data={"timezone": "", "csrf": csrf})
    assert flash_of(r.text) == ["Times are now shown in Europe/Istanbul."]
    assert first_time(c.get("/app/cases/1").text)[1] == "2024-10-21 10:00 +03"
    assert [(who, target, d) for who, _, target, d in _audit(app, "agent.timezone")] == [
        ("ece", "ece", {"from": None, "to": "Asia/Tokyo"}),
        ("ece", "ece", {"from": "Asia/Tokyo", "to": None}),
    ]
    assert c.post("/app/settings/timezone", data={"timezone": "UTC"}).status_code == 403

    keyed = client(app)  # a key that acts as no agent has no zone of its own to set
    csrf = sign_in(keyed, make_key(app, "admin"))
    assert 'id="timezone-form"' not in keyed.get("/app/settings").text
    assert keyed.post("/app/settings/timezone", data={"timezone": "UTC", "csrf": csrf}).status_code == 409
