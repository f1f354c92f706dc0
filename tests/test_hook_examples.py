"""The hook examples of ``docs/hooks.md`` run, in a real application, and do what they say.

``tests/test_docs.py`` checks that every example matches its hookspec and registers; this
module runs them.  The examples (``docs/hook_examples.py``, a plugin called ``scrm-vip``) are
registered in an application on SQLite and PostgreSQL, every one wrapped so its calls are
counted, and the application is driven through its public faces (ingest, the CLI, the REST
app, the worker) until each example has been called at least once.  What the examples log
is checked, so an example whose body drifts from the API fails here, not in a reader's
plugin.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import os
import types
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from scrm.core.app import Scrm
from scrm.core.config import Config
from scrm.core.models import Customer
from scrm.testing import CliInvoker
from tests.helpers import message
from tests.test_docs import gen

pytestmark = pytest.mark.integration

#: ``register_migrations`` names a package the reader's plugin has and this checkout has not;
#: it is called on its own below, not registered.
NOT_REGISTERED = {"register_migrations"}
#: A plugin implementing ``sla_swept`` gets a sweep's alerts there, not one by one: the
#: per-alert examples run in a second plugin, as a reader would write one or the other.
PER_ALERT = {"sla_warning", "sla_breached"}
SECRET = "gateway-secret"


class Examples:
    """The example hooks as one plugin, counting the calls of each."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        functions = {n: f for n, f in gen.examples().items() if n not in NOT_REGISTERED}
        # A plugin is a module, as a reader's is.
        self.plugins = [types.ModuleType("scrm_vip"), types.ModuleType("scrm_vip_alerts")]
        for name, fn in functions.items():
            setattr(self.plugins[name in PER_ALERT], name, self._counted(name, fn))

    def _counted(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return fn(*args, **kwargs)

        return counted


@pytest.fixture
def examples() -> Examples:
    return Examples()


@pytest.fixture
def scrm_plugins(examples: Examples) -> list[object]:
    return list(examples.plugins)


@pytest.fixture
def scrm_config(scrm_database_url: str) -> Config:
    return Config(database_url=scrm_database_url, channels={"sms": {"secret": SECRET}})


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The examples keep attachments in ``vip-attachments/`` under the working directory."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def _sms(n: int, text: str, phone: str = "+90 532 111 22 33") -> dict[str, Any]:
    return {"id": f"sms-{n}", "from": phone, "body": text,
            "received_at": (datetime.now(UTC) - timedelta(hours=3, minutes=-n)).isoformat()}  # fmt: skip


def _signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Sms-Signature": f"sha256={digest}", "Content-Type": "application/json"}


def test_register_migrations_names_the_plugins_migrations() -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    gen.examples()["register_migrations"](register=lambda *a, **kw: calls.append((a, kw)))
    assert calls == [(("scrm_vip:migrations",), {"models": "scrm_vip.models"})]


def test_every_example_runs_in_a_real_application(
    app: Scrm,
    cli: CliInvoker,
    examples: Examples,
    workdir: Path,
    sample_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="scrm_vip")
    assert examples.calls["app_started"] >= 1 and examples.calls["register_hookspecs"] == 1
    client = TestClient(_server(app))

    # The plugin's SMS webhook: refused unsigned, accepted signed, then parsed and ingested;
    # the plugin's own classifier reads "iptal" before the built-in one.
    body = json.dumps(_sms(1, "Aboneliğimi iptal etmek istiyorum, faturam iki kez kesildi"))
    assert client.post("/webhooks/sms", content=body).status_code == 403
    accepted = client.post("/webhooks/sms", content=body, headers=_signed(body.encode()))
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    [sms] = app.interactions(channel="sms")
    assert (sms.kind, sms.category, sms.urgency) == ("complaint", "cancellation", ["churn"])

    # A payload without an id is a reject of the webhook source, which the plugin logs.
    bad = json.dumps({"from": "+90 532 111 22 33", "body": "merhaba"})
    assert client.post("/webhooks/sms", content=bad, headers=_signed(bad.encode())).status_code == 200
    assert "webhook:sms rejected a delivery (id: an SMS needs an id)" in caplog.text

    # A gold customer (the plugin's VIP list names their X account and the number that
    # texted) tweets: the tweet joins their record and the plugin routes it.
    with app.session() as s:
        customer = s.get(Customer, sms.customer_id)
        assert customer is not None
        customer.attributes = {"tier": "gold"}
    tweet = message("t1", "@AcmeDestek İnternetim 3 gündür yok, SMS'ime de cevap yok!",
                    author_obj={"external_id": "tw-7", "handle": "Ayse_Yilmaz"},
                    created_at=datetime.now(UTC).isoformat())  # fmt: skip
    assert app.ingest([tweet]).stored == 1
    [tw] = app.interactions(channel="twitter")
    assert tw.customer_id == sms.customer_id
    identities = app.customer(sms.customer_id).identities
    assert {(i.channel, i.linked_by) for i in identities} == {("sms", "new"), ("twitter", "plugin")}
    assert app.case(tw.case_id).department == "support"
    assert "vip:gold-tier" in cli("route", "explain", str(tw.id)).stdout

    # The sample, as `make demo` loads it: urgent complaints, a viral one, a coordinated burst.
    cli("ingest", str(sample_dir / "interactions.jsonl"), "--as-of", "now")
    cli("ingest", "--channel", "phone", str(sample_dir / "phone.jsonl"), "--as-of", "now")
    assert "urgent case" in caplog.text and "cases look coordinated" in caplog.text
    assert "is going viral" in caplog.text
    cli("sla", "check")
    assert "deadlines missed in the sweep" in caplog.text  # sla_swept
    assert "was not answered by" in caplog.text  # sla_breached, in the per-alert plugin
    ours = [c for c in app.cases(limit=500) if c.sla_policy == "urgent-complaint"]
    assert ours and all((c.priority, c.kind) == ("urgent", "complaint") for c in ours)
    assert all(c.first_response_due - c.opened_at == timedelta(minutes=30) for c in ours)

    # The gold customer's tweet is shared widely; then a burst of questions in one hour.
    shared = {**tweet, "engagement": {"likes": 900, "shares": 1500, "replies": 40, "quotes": 12}}
    assert app.ingest([shared]).updated == 1
    assert f"interaction {tw.id} has been shared 1500 times" in caplog.text
    burst = [message(f"q{k}", "Kargom nerede, takip numarası çalışmıyor?", author=f"q{k}",
                     created_at=datetime.now(UTC).isoformat()) for k in range(15)]  # fmt: skip
    assert app.ingest(burst).stored == 15
    assert "brand mentions: 1" in caplog.text and "expected (p=" in caplog.text

    # A reply through the outbox, a bad rating that reopens, a report by the plugin's slice.
    phone_case = app.cases(status="open", channel="phone")[0].id
    cli("reply", str(phone_case), "--template", "acknowledge")
    cli("outbox", "deliver")
    cli("case", "resolve", str(phone_case))
    cli("case", "rate", str(phone_case), "1")
    assert f"case {phone_case} reopened by" in caplog.text
    report = cli("report", "--since", "30d", "--by", "channel_group").stdout
    assert "traditional" in report and "social" in report
    assert "traditional channels are served" in caplog.text  # parity_gap
    assert cli("vip-threshold").stdout.strip() == "100000"

    # The plugin's task removes old attachments; erasure removes a customer's.
    old = workdir / "vip-attachments" / "999" / "scan.pdf"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"%PDF")
    month_ago = (datetime.now(UTC) - timedelta(days=40)).timestamp()
    os.utime(old, (month_ago, month_ago))
    cli("worker", "--once", "--only", "vip-purge-attachments")
    assert not old.exists()
    mine = workdir / "vip-attachments" / str(sms.customer_id) / "id.jpg"
    mine.parent.mkdir(parents=True, exist_ok=True)
    mine.write_bytes(b"jpg")
    cli("customers", "erase", str(sms.customer_id), "--yes")
    assert not mine.parent.exists()

    never = sorted(set(gen.examples()) - NOT_REGISTERED - set(examples.calls))
    assert not never, f"these examples were never called: {never}"


def _server(app: Scrm) -> Any:
    from scrm.server import create_app

    return create_app(app)
