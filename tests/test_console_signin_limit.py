"""The limit on failed password sign-ins to the console: per username and per client
address, kept in the database (so every server process counts the same failures), and
saying nothing about which usernames exist."""

from __future__ import annotations

import re
import warnings
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from consolekit import csrf_of, flash_of
from serverkit import seed_cases

from scrm.core import signin_limit
from scrm.core.app import Scrm
from scrm.core.models import SigninFailure
from scrm.server import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PASSWORD = "kargo-takip-42"


def browser(app: Scrm, address: str = "198.51.100.7") -> TestClient:
    """A console client coming from ``address``."""
    return TestClient(create_app(app, background=False), client=(address, 50000))


def try_password(c: TestClient, username: str, password: str) -> Any:
    csrf = csrf_of(c.get("/app/signin").text)
    return c.post("/app/signin/password",
                  data={"username": username, "password": password, "csrf": csrf})  # fmt: skip


def refusal(r: Any) -> str:
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', r.text, re.S)
    assert found, r.text[:300]
    return found.group(1)


def test_five_failures_refuse_a_username_for_a_quarter_hour_whoever_tries(app: Scrm, cli: Any) -> None:
    seed_cases(app, cli)
    cli("agents", "password", "ece", "--password-stdin", input=PASSWORD + "\n")
    for n in range(signin_limit.PER_USERNAME):
        r = try_password(browser(app), "ece", f"yanlis-parola-{n}")
        assert r.status_code == 401 and "do not match" in r.text
    r = try_password(browser(app, "203.0.113.9"), "ece", PASSWORD)
    assert r.status_code == 429, "the right password too, from another address"
    assert re.fullmatch(
        r"Too many failed sign-ins\. Try again after \d{4}-\d\d-\d\d \d\d:\d\d \+03 "
        r"\(Europe/Istanbul\), in 1[45] minutes\.",
        refusal(r),
    ), refusal(r)
    assert 840 <= int(r.headers["retry-after"]) <= 900

    # Another process of the server (another worker) counts the same failures.
    other = Scrm(app.config, app.pm)
    try:
        assert try_password(browser(other), "ece", PASSWORD).status_code == 429
    finally:
        other.close()

    # Once the failures are older than the window, the password works again.
    with app.session() as s:
        for failure in s.scalars(sa.select(SigninFailure)):
            failure.at -= signin_limit.WINDOW + timedelta(minutes=1)
    r = try_password(browser(app), "ece", PASSWORD)
    assert r.url.path == "/app/inbox" and flash_of(r.text) == ["Signed in as ece (agent)."]


def test_an_unknown_username_is_refused_exactly_like_a_known_one(app: Scrm, cli: Any) -> None:
    seed_cases(app, cli)
    cli("agents", "password", "ece", "--password-stdin", input=PASSWORD + "\n")
    answers = {}
    for user in ("ece", "nobody"):
        for n in range(signin_limit.PER_USERNAME):
            assert try_password(browser(app), user, f"yanlis-parola-{n}").status_code == 401
        r = try_password(browser(app), user, "yanlis-parola-x")
        answers[user] = (r.status_code, re.sub(r"\d", "0", refusal(r)), "retry-after" in r.headers)
    assert answers["ece"] == answers["nobody"] and answers["ece"][0] == 429


def test_a_success_forgets_the_usernames_failures(app: Scrm, cli: Any) -> None:
    seed_cases(app, cli)
    cli("agents", "password", "ece", "--password-stdin", input=PASSWORD + "\n")
    for n in range(signin_limit.PER_USERNAME - 1):
        try_password(browser(app), "ece", f"yanlis-parola-{n}")
    assert try_password(browser(app), "ece", PASSWORD).url.path == "/app/inbox"
    for n in range(signin_limit.PER_USERNAME - 1):
        assert try_password(browser(app), "ece", f"yanlis-parola-{n}").status_code == 401
    assert try_password(browser(app), "ece", PASSWORD).url.path == "/app/inbox"


def test_one_address_guessing_many_usernames_is_refused_from_that_address_only(
    app: Scrm, cli: Any
) -> None:
    seed_cases(app, cli)
    cli("agents", "password", "ece", "--password-stdin", input=PASSWORD + "\n")
    guesser = browser(app, "192.0.2.66")
    for n in range(signin_limit.PER_ADDRESS):
        assert try_password(guesser, f"user{n}", "yanlis-parola").status_code == 401
    r = try_password(guesser, "ece", PASSWORD)
    assert r.status_code == 429 and "Too many failed sign-ins" in refusal(r)
    assert try_password(browser(app, "192.0.2.67"), "ece", PASSWORD).url.path == "/app/inbox"


def test_the_refusal_is_in_the_interface_language(app: Scrm, cli: Any) -> None:
    seed_cases(app, cli)
    c = browser(app)
    c.headers["Accept-Language"] = "tr"
    for n in range(signin_limit.PER_USERNAME):
        try_password(c, "ece", f"yanlis-parola-{n}")
    r = try_password(c, "ece", "yanlis-parola")
    assert r.status_code == 429 and refusal(r).startswith("Çok fazla başarısız giriş denemesi.")
