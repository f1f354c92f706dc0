"""The polling toolkit of the plugin API (``scrm.plugin.polling``) against a local mock API.

Requests go to an ``httpx.MockTransport``: nothing leaves the process, the clock is fixed
and ``sleep`` records what the client would have waited.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from rich.cells import cell_len

from scrm.plugin import Scrm, hookimpl
from scrm.plugin.polling import (
    MAX_HEADER_WAIT,
    ApiClient,
    ApiError,
    AuthError,
    PollReport,
    RateLimited,
    RateState,
    Retry,
    ServerError,
    StreamResult,
    TransientError,
    backoff,
    reset_time,
    retry_after,
)

NOW = 1_700_000_000.0

Answer = tuple[int, dict[str, str], Any]


class ShopClient(ApiClient):
    service = "the shop"

    def credential_name(self, auth: str | None) -> str:
        return "plugins.shop.token"

    def authorization(
        self, method: str, url: str, params: Mapping[str, Any], auth: str | None
    ) -> dict[str, str]:
        return {"authorization": "Bearer secret-token"}


@dataclass
class MockApi:
    """Answer each request with the next scripted answer; record the requests."""

    answers: list[Answer | Exception]
    requests: list[httpx.Request]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        status, headers, body = answer
        return httpx.Response(status, headers=headers, json=body)


def client(
    *answers: Answer | Exception, retry: Retry | None = None, **kw: Any
) -> tuple[ShopClient, MockApi, list[float]]:
    api = MockApi(list(answers), [])
    sleeps: list[float] = []
    http = httpx.Client(base_url="http://shop.test", transport=httpx.MockTransport(api.handle))
    c = ShopClient(http, retry, sleep=sleeps.append, clock=lambda: NOW, **kw)
    return c, api, sleeps


OK: Answer = (200, {}, {"items": []})


def test_a_success_is_returned_decoded_with_the_credential_sent() -> None:
    c, api, sleeps = client((200, {"x-ratelimit-remaining": "299"}, {"items": [1]}))
    r = c.request("GET", "/orders", endpoint="GET /orders", params={"since": "5"})
    assert (r.status, r.body) == (200, {"items": [1]})
    assert api.requests[0].headers["authorization"] == "Bearer secret-token"
    assert api.requests[0].url.params["since"] == "5"
    assert c.rates["GET /orders"] == RateState(None, 299, None)
    assert sleeps == []


def test_retry_after_is_honoured_on_429() -> None:
    c, api, sleeps = client((429, {"retry-after": "30"}, {"error": "slow down"}), OK)
    assert c.request("GET", "/orders", endpoint="GET /orders").status == 200
    assert sleeps == [31.0]  # what the server asked, and a second of slack
    assert len(api.requests) == 2


def test_an_http_date_retry_after_is_read_against_the_clock() -> None:
    assert retry_after("Tue, 14 Nov 2023 22:15:00 GMT", NOW) == 100.0
    assert retry_after("120", NOW) == 120.0
    assert retry_after("99999999999", NOW) == MAX_HEADER_WAIT
    assert retry_after("soon", NOW) is None and retry_after(None, NOW) is None


def test_the_reset_header_is_honoured_on_429_without_retry_after() -> None:
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 120)}
    c, api, sleeps = client((429, reset, {}), OK)
    c.request("GET", "/orders", endpoint="GET /orders")
    assert sleeps == [121.0] and len(api.requests) == 2


def test_a_spent_window_is_waited_out_before_the_next_request() -> None:
    spent = {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(NOW) + 60)}
    c, api, sleeps = client((200, spent, {}), OK)
    c.request("GET", "/orders", endpoint="GET /orders")
    c.request("GET", "/refunds", endpoint="GET /refunds")  # another endpoint's window
    assert sleeps == []
    c.request("GET", "/orders", endpoint="GET /orders")
    assert sleeps == [61.0] and len(api.requests) == 3


def test_a_shared_window_covers_every_endpoint() -> None:
    spent = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "2023-11-14T22:14:20Z"}
    c, api, sleeps = client((200, spent, {}), OK, shared_window=True)
    c.request("GET", "/orders", endpoint="GET /orders")
    c.request("GET", "/refunds", endpoint="GET /refunds")
    assert sleeps == [61.0] and len(api.requests) == 2


def test_a_spent_window_without_waiting_raises_at_once() -> None:
    spent = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 60)}
    c, api, sleeps = client((200, spent, {}))
    c.request("GET", "/orders", endpoint="GET /orders")
    with pytest.raises(RateLimited, match="rate limit exhausted until 22:14:20 UTC") as err:
        c.request("GET", "/orders", endpoint="GET /orders", wait=False)
    assert len(api.requests) == 1 and sleeps == []
    assert err.value.retry_after(NOW) == 60.0


def test_a_rate_limit_longer_than_max_wait_is_raised_with_its_reset() -> None:
    c, api, sleeps = client((429, {"retry-after": "3600"}, {}), retry=Retry(max_wait=600))
    with pytest.raises(RateLimited, match=r"GET /orders: rate limited by the shop") as err:
        c.request("GET", "/orders", endpoint="GET /orders")
    assert isinstance(err.value, TransientError) and err.value.status == 429
    assert err.value.retry_after(NOW) == 3600.0 and sleeps == [] and len(api.requests) == 1


def test_a_rate_limit_is_waited_on_at_most_max_waits_times() -> None:
    c, api, sleeps = client((429, {"retry-after": "5"}, {}), retry=Retry(max_waits=2))
    with pytest.raises(RateLimited):
        c.request("GET", "/orders", endpoint="GET /orders")
    assert sleeps == [6.0, 6.0] and len(api.requests) == 3


def test_5xx_back_off_doubles_up_to_its_cap() -> None:
    unavailable: Answer = (503, {}, {"title": "Unavailable", "detail": "maintenance"})
    c, api, sleeps = client(unavailable, retry=Retry(retries=6, backoff=1.0, max_backoff=5.0))
    with pytest.raises(ServerError) as err:
        c.request("GET", "/orders", endpoint="GET /orders")
    assert sleeps == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert len(api.requests) == 7
    assert str(err.value) == "GET /orders: the shop failed with 503 (Unavailable: maintenance)"
    assert backoff(900, 3, 86_400) == 7200 and backoff(900, 10_000, 86_400) == 86_400


def test_5xx_with_retry_after_waits_as_asked_then_succeeds() -> None:
    c, api, sleeps = client((503, {"retry-after": "20"}, {}), OK)
    assert c.request("GET", "/orders", endpoint="GET /orders").status == 200
    assert sleeps == [20.0] and len(api.requests) == 2


def test_a_connection_error_is_retried_then_named() -> None:
    c, api, sleeps = client(httpx.ConnectError("refused"), retry=Retry(retries=2))
    with pytest.raises(ServerError, match="GET /orders: cannot reach the shop: ConnectError"):
        c.request("GET", "/orders", endpoint="GET /orders")
    assert sleeps == [1.0, 2.0] and len(api.requests) == 3


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (404, {"error": "Record not found"}, ApiError,
         "GET /orders: the shop answered 404 (Record not found)"),
        (422, {"errors": [{"message": "bad since"}]}, ApiError,
         "GET /orders: the shop answered 422 (bad since)"),
        (401, {"error": "invalid_token", "error_description": "expired"}, AuthError,
         "the shop rejected plugins.shop.token (401 invalid_token: expired): the credential is "
         "wrong, expired or revoked"),
        (403, None, AuthError,
         "the shop refused GET /orders with plugins.shop.token (403 Forbidden): check the "
         "credential's permissions"),
    ],
)  # fmt: skip
def test_a_permanent_error_is_not_retried(
    status: int, body: Any, error: type[ApiError], message: str
) -> None:
    c, api, sleeps = client((status, {"retry-after": "1"}, body))
    with pytest.raises(error) as err:
        c.request("GET", "/orders", endpoint="GET /orders")
    assert type(err.value) is error and not isinstance(err.value, TransientError)
    assert str(err.value) == message and err.value.status == status
    assert len(api.requests) == 1 and sleeps == []
    assert "secret-token" not in message


def test_a_request_that_must_not_repeat_is_sent_once() -> None:
    c, api, sleeps = client((502, {}, {}))
    with pytest.raises(ServerError):
        c.request("POST", "/orders", endpoint="POST /orders", json={"n": 1}, retries=0)
    assert len(api.requests) == 1 and json.loads(api.requests[0].content) == {"n": 1}
    assert sleeps == []


def test_rate_headers_of_both_spellings_and_bad_values() -> None:
    x = RateState.from_headers({"x-rate-limit-limit": "75", "x-rate-limit-remaining": "3",
                                "x-rate-limit-reset": "1700000900"})  # fmt: skip
    assert x == RateState(75, 3, 1_700_000_900.0)
    mastodon = RateState.from_headers(
        {"x-ratelimit-limit": "300", "x-ratelimit-remaining": "-1",
         "x-ratelimit-reset": "2023-11-14T22:30:00.000Z"}
    )  # fmt: skip
    assert mastodon == RateState(300, None, 1_700_001_000.0)
    assert RateState.from_headers({"content-type": "application/json"}) is None
    assert reset_time("inf") is None and reset_time("nan") is None
    assert reset_time("2023-11-14T22:30:00") is None  # no offset: whose time?


# -- the report ------------------------------------------------------------------------------


@dataclass
class PageResult(StreamResult):
    pages: int = 0

    columns = (("stream", "name"), ("pages", "pages"), ("stored", "stored"),
               ("error", "error"))  # fmt: skip


class ShopCommands:
    def __init__(self, report: Callable[[], PollReport]) -> None:
        self.report = report

    @hookimpl
    def register_commands(self, cli: Any) -> None:
        import click

        from scrm.plugin.cli import CliContext, exit_if_failed, show_poll_report

        @cli.command("shop-poll")
        @click.option("--json", "as_json", is_flag=True)
        @click.pass_obj
        def shop_poll(obj: CliContext, as_json: bool) -> None:
            report = self.report()
            show_poll_report(obj, report, as_json)
            exit_if_failed(report, "shops")


def shop_report(app: Scrm) -> PollReport:
    ok = PageResult("orders", pages=2)
    ok.count(app.ingest([]))  # nothing new: the counters stay at zero
    ok.stored += 3
    return PollReport([ok, PageResult("refunds", error="GET /refunds: the shop failed with 502")])


def test_the_report_prints_a_table_and_fails_naming_the_stream(
    app: Scrm, cli: Any, register_plugin: Callable[[object], None]
) -> None:
    register_plugin(ShopCommands(lambda: shop_report(app)))
    result = cli("shop-poll", expect=1)
    drawn = re.compile("[\u2500-\u257f]")  # rich's box characters
    lines = [cells for line in result.stdout.splitlines() if (cells := drawn.sub(" ", line).split())]
    assert lines[0] == ["stream", "pages", "stored", "error"]
    assert lines[1] == ["orders", "2", "3"]
    assert lines[2][:2] == ["refunds", "0"] and "failed with 502" in result.stdout
    assert result.stderr.strip() == (
        "Error: 1 of 2 shops failed: refunds: GET /refunds: the shop failed with 502"
    )
    assert str(shop_report(app)) == "2 streams read, 3 stored, 1 failed"


def test_the_report_keeps_one_line_per_stream_on_a_narrow_terminal(
    app: Scrm, cli: Any, register_plugin: Callable[[object], None]
) -> None:
    long = "GET /refunds?page=2: the shop failed with 502 Bad Gateway after three attempts"
    register_plugin(ShopCommands(lambda: PollReport([
        PageResult("orders-of-the-istanbul-store", pages=2, stored=3),
        PageResult("refunds", error=long),
    ])))  # fmt: skip
    result = cli("shop-poll", expect=1, env={"COLUMNS": "60"})
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and all(cell_len(line) <= 60 for line in lines), lines
    assert lines[2].startswith("refunds") and lines[2].rstrip().endswith("…")
    assert long in result.stderr  # the whole error is on the line that says what failed


def test_the_report_as_json(
    app: Scrm, cli: Any, register_plugin: Callable[[object], None]
) -> None:
    register_plugin(ShopCommands(lambda: PollReport([PageResult("orders", stored=1, pages=1)])))
    rows = json.loads(cli("shop-poll", "--json").stdout)
    assert rows == [{"name": "orders", "stored": 1, "duplicates": 0, "updated": 0, "rejected": 0,
                     "error": None, "pages": 1}]  # fmt: skip
