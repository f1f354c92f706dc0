"""Data rights: erasure leaves no trace of a person, export gives everything, retention works.

The erasure proof plants a unique marker everywhere a person's data can reach, erases the
person, then scans every column of every table (found by reflection, not listed here) and,
on SQLite, the raw bytes of the database file and its write-ahead log.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from helpers import T0, message
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from serverkit import (
    FB_PAGE,
    SyncClient,
    auth,
    body_of,
    facebook_signature,
    make_key,
    server_config,
)

from scrm import hookimpl
from scrm.core import audit, labels, webhooks
from scrm.core import customers as customer_ops
from scrm.core import inbox as inbox_ops
from scrm.core.bounds import clean_text
from scrm.core.config import RetentionConfig
from scrm.core.db import utcnow
from scrm.core.models import (
    Case,
    CaseEvent,
    Customer,
    FollowUp,
    Identity,
    InboxPayload,
    Interaction,
    LabelCorrection,
    OutboxMessage,
    WebhookDelivery,
    WebhookSubscription,
)
from scrm.core.privacy import ERASED, EXPIRED, erase_customer
from scrm.core.retention import apply_retention
from scrm.core.services import cases, outbox
from scrm.core.state import set_state
from scrm.server import create_app

MARK = "zq7mark9x"
PHONE = "+90 532 771 04 93"
PHONE_DIGITS = "905327710493"
CONTROL = "kq4ctrl2w"


def scan(engine: sa.Engine, needles: list[str]) -> set[str]:
    """Return ``table.column`` of every stored value containing a needle (all tables, all columns)."""
    found: set[str] = set()
    insp = sa.inspect(engine)
    meta = sa.MetaData()
    with engine.connect() as conn:
        for name in insp.get_table_names():
            table = sa.Table(name, meta, autoload_with=conn)
            for row in conn.execute(sa.select(table)).mappings():
                for col, value in row.items():
                    if value is None:
                        continue
                    text = value if isinstance(value, str) else json.dumps(value, default=str)
                    text = text.lower()
                    if any(n.lower() in text for n in needles):
                        found.add(f"{name}.{col}")
    return found


def author(**extra: Any) -> dict[str, Any]:
    return {
        "external_id": f"{MARK}-uid",
        "handle": f"{MARK}_h",
        "display_name": f"Ayşe {MARK}",
        "email": f"{MARK}@example.com",
        "phone": PHONE,
        "followers": 1234,
        **extra,
    }


def plant(app: Any) -> dict[str, int]:
    """Put the marker everywhere a person's data can go; return the ids involved."""
    report = app.ingest(
        [
            message(
                f"tw-{MARK}-1",
                f"Siparişim gelmedi, berbat bir hizmet! {MARK}",
                author_obj=author(),
                subject=f"Şikayet {MARK}",
                thread_key=f"dm:{MARK}-uid",
                raw={"note": MARK, "user": {"screen_name": f"{MARK}_h"}},
                attachments=[{"name": f"{MARK}.pdf", "url": f"https://files.example/{MARK}.pdf"}],
                engagement={"likes": 3, "shares": 1},
            ),
            message(
                f"tw-{MARK}-2",
                f"Hala cevap yok, rezalet {MARK}",
                author_obj=author(),
                minutes=5,
                thread_key=f"dm:{MARK}-uid",
            ),
            message(
                "fb-1",
                f"Ürün bozuk çıktı, iade istiyorum {MARK}",
                channel="facebook",
                author_obj={"external_id": f"fb-{MARK}", "display_name": f"{MARK} FB"},
                minutes=7,
            ),
            message(
                "ctrl-1",
                f"Kargo gecikti, berbat {CONTROL}",
                author_obj={"external_id": "ctrl-uid", "handle": f"{CONTROL}_h"},
                minutes=9,
            ),
            # A bad record that names the person: kept as a reject.
            message(
                f"tw-{MARK}-bad",
                "x",
                author_obj={"external_id": f"{MARK}-uid", "email": f"bad {MARK}@"},
            ),
        ]
    )
    assert report.rejected == 1, report
    with app.session() as s:
        ids = {
            c.external_id: c.customer_id
            for c in s.scalars(sa.select(Identity))
            if not c.external_id.startswith("brand")
        }
        a, b, ctrl = ids[f"{MARK}-uid"], ids[f"fb-{MARK}"], ids["ctrl-uid"]
        customer_ops.merge(s, b, a, actor="agent1", reason=f"same person: {MARK}")
        case_id = s.scalar(sa.select(Case.id).where(Case.customer_id == a))
        ctrl_case = s.scalar(sa.select(Case.id).where(Case.customer_id == ctrl))
        first = s.scalar(sa.select(Interaction.id).where(Interaction.external_id == f"tw-{MARK}-1"))
    assert case_id is not None and first is not None
    # The brand answers on the platform, quoting the person: recorded as outbound.
    app.ingest(
        [
            message(
                "tw-brand-1",
                f"Merhaba {MARK}, DM'den sipariş numaranızı iletir misiniz?",
                author_obj={"external_id": "brand", "handle": "acme"},
                direction="outbound",
                recipient={"external_id": f"{MARK}-uid"},
                in_reply_to=f"tw-{MARK}-1",
                minutes=20,
            )
        ]
    )
    cases.transition(app, case_id, "investigating", actor="agent1", note=f"checked with {MARK}")
    cases.promise(app, case_id, timedelta(hours=4), actor="agent1", note=f"call {MARK} back")
    outbox.reply(app, case_id, actor="agent1", text=f"Sayın {MARK}, iadeniz yolda.")
    cases.transition(app, case_id, "solution_proposed", actor="agent1")
    cases.rate(app, case_id, 4)
    inbox_ops.store(app, "twitter", json.dumps({"from": f"{MARK}-uid", "text": "hi"}).encode())
    with app.session() as s:
        labels.correct_label(s, first, "agent1", category="delivery")
        set_state(s, "twitter", f"dm-cursor:{MARK}-uid", {"since": "17"})
        set_state(s, "twitter", "mentions", {"since_id": "99"})
        audit.record(
            s,
            actor="agent1",
            action="customer.note",
            target_type="customer",
            target_id=a,
            details={"name": f"Ayşe {MARK}", "count": 2},
        )
        sub = WebhookSubscription(url="https://hooks.example/x", created_by="admin")
        s.add(sub)
        s.flush()
        webhooks.enqueue_event(s, "interaction.stored", {"id": first, "text": MARK})
        webhooks.enqueue_event(s, "case.opened", {"case": {"id": case_id, "customer_id": a}})
        webhooks.enqueue_event(s, "case.opened", {"case": {"id": ctrl_case, "customer_id": ctrl}})
    return {"a": a, "b": b, "ctrl": ctrl, "case": case_id, "ctrl_case": ctrl_case, "first": first}


def metrics(app: Any) -> dict[str, Any]:
    """What reports count: it must survive erasure unchanged."""
    with app.session() as s:
        return {
            "interactions": s.execute(
                sa.select(
                    Interaction.id,
                    Interaction.channel,
                    Interaction.direction,
                    Interaction.public,
                    Interaction.created_at,
                    Interaction.customer_id,
                    Interaction.case_id,
                    Interaction.kind,
                    Interaction.category,
                    Interaction.sentiment,
                    Interaction.reach,
                    Interaction.engagement,
                ).order_by(Interaction.id)
            ).all(),
            "cases": s.execute(
                sa.select(
                    Case.id,
                    Case.customer_id,
                    Case.status,
                    Case.kind,
                    Case.category,
                    Case.priority,
                    Case.opened_at,
                    Case.first_response_at,
                    Case.resolved_at,
                    Case.csat_score,
                    Case.reopen_count,
                ).order_by(Case.id)
            ).all(),
            "events": s.execute(
                sa.select(
                    CaseEvent.id, CaseEvent.action, CaseEvent.at, CaseEvent.to_value
                ).order_by(CaseEvent.id)
            ).all(),
            "follow_ups": s.execute(
                sa.select(FollowUp.id, FollowUp.kind, FollowUp.due_at, FollowUp.status)
            ).all(),
            "outbox": s.execute(
                sa.select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.created_at)
            ).all(),
            "customers": s.scalar(sa.select(sa.func.count()).select_from(Customer)),
        }


def test_erasure_leaves_no_trace_of_the_person(app, cli):
    ids = plant(app)
    planted = scan(app.engine, [MARK])
    # The plant reached every kind of place (so the scan below proves something).
    for where in (
        "customers.display_name",
        "customers.email",
        "identities.handle",
        "identities.external_id",
        "interactions.text",
        "interactions.raw",
        "interactions.attachments",
        "interactions.external_id",
        "interactions.thread_key",
        "cases.subject",
        "case_events.note",
        "follow_ups.evidence",
        "outbox.text",
        "outbox.recipient",
        "rejects.payload",
        "customer_merges.reason",
        "inbox.body",
        "webhook_deliveries.payload",
        "plugin_state.key",
        "audit_log.details",
    ):
        assert where in planted, (where, sorted(planted))
    assert scan(app.engine, [PHONE_DIGITS])
    before = metrics(app)

    out = cli("customers", "erase", str(ids["b"]), "--yes", "--json")
    result = json.loads(out.stdout)
    assert result["customer_id"] == ids["a"]
    assert sorted(result["customers"]) == sorted([ids["a"], ids["b"]])
    assert result["counts"]["interactions"] >= 4
    assert result["counts"]["rejects"] == 1
    assert result["counts"]["label_corrections"] == 1

    assert scan(app.engine, [MARK, PHONE_DIGITS, f"{MARK}-uid"]) == set()
    assert metrics(app) == before, "counts, times, states and ratings survive erasure"

    with app.session() as s:
        # The other customer is untouched, and so are deliveries about them.
        ctrl = s.scalar(sa.select(Interaction).where(Interaction.external_id == "ctrl-1"))
        assert ctrl is not None and CONTROL in ctrl.text
        assert s.scalar(sa.select(Case.subject).where(Case.id == ids["ctrl_case"]))
        payloads = [d.payload for d in s.scalars(sa.select(WebhookDelivery))]
        assert {"erased": True} in payloads
        assert any(
            p.get("data", {}).get("case", {}).get("id") == ids["ctrl_case"] for p in payloads
        )
        states = {d.status for d in s.scalars(sa.select(WebhookDelivery))}
        assert "cancelled" in states and "pending" in states
        assert s.scalar(sa.select(sa.func.count()).select_from(LabelCorrection)) == 0
        entry = s.scalars(
            sa.select(audit.AuditEntry).where(audit.AuditEntry.action == "customer.erase")
        ).one()
        assert entry.target_id == str(ids["a"]) and entry.details["counts"]["customers"] == 2
        outbox = s.scalars(sa.select(OutboxMessage)).all()
        assert all(o.status in ("failed", "sent") for o in outbox)

    # An unrelated poll cursor survives.
    assert app.load_state("twitter", "mentions") == {"since_id": "99"}

    # The platform redelivers an erased message: recognised, not stored again.
    again = app.ingest([message(f"tw-{MARK}-1", f"Siparişim gelmedi {MARK}", author_obj=author())])
    assert (again.stored, again.duplicates) == (0, 1)
    assert scan(app.engine, [MARK]) == set()

    if app.engine.dialect.name == "sqlite":
        path = Path(app.engine.url.database or "")
        app.engine.dispose()
        for f in (path, Path(f"{path}-wal")):
            if f.exists():
                data = f.read_bytes()
                assert MARK.encode() not in data, f"{f.name} keeps the marker"
                assert PHONE_DIGITS.encode() not in data


def test_erasure_calls_plugins_and_runs_again(app, register_plugin):
    seen: list[tuple[int, list[tuple[str, str]], list[tuple[str, str]]]] = []

    class Files:
        @hookimpl
        def erase_customer_data(self, customer_id, identities, attachments):
            seen.append((customer_id, identities, attachments))

    register_plugin(Files())
    ids = plant(app)
    with app.session() as s:
        erase_customer(s, ids["a"], "dpo", app.hooks)
    assert seen[0][0] == ids["a"]
    assert sorted(seen[0][1]) == sorted([("twitter", f"{MARK}-uid"), ("facebook", f"fb-{MARK}")])
    assert seen[0][2] == [("twitter", f"https://files.example/{MARK}.pdf")]
    with app.session() as s:
        report = erase_customer(s, ids["a"], "dpo", app.hooks)
    assert seen[1][1] == [] and report.counts.get("identities") == 2


def test_failing_plugin_rolls_the_erasure_back(app, register_plugin):
    class Broken:
        @hookimpl
        def erase_customer_data(self, customer_id):
            raise OSError("disk on fire")

    register_plugin(Broken())
    ids = plant(app)
    with pytest.raises(OSError), app.session() as s:
        erase_customer(s, ids["a"], "dpo", app.hooks)
    assert MARK in app.customer(ids["a"]).display_name


def test_erase_unknown_customer_is_one_clear_line(cli):
    result = cli("customers", "erase", "999", "--yes", expect=1)
    assert "no customer 999" in result.output


def test_export_gives_everything_about_the_person(app, cli, tmp_path):
    ids = plant(app)
    out = tmp_path / "export.json"
    cli("customers", "export", str(ids["a"]), "--output", str(out))
    assert os.stat(out).st_mode & 0o077 == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert {c["id"] for c in data["customers"]} == {ids["a"], ids["b"]}
    assert {i["channel"] for i in data["identities"]} == {"twitter", "facebook"}
    texts = " ".join(i["text"] for i in data["interactions"])
    assert "tw-brand-1" in {i["external_id"] for i in data["interactions"]}
    assert CONTROL not in json.dumps(data)
    assert MARK in texts and any(i["raw"] for i in data["interactions"])
    case = next(c for c in data["cases"] if c["id"] == ids["case"])
    assert case["csat"]["score"] == 4
    assert any(e["note"] and MARK in e["note"] for e in case["events"])
    assert case["follow_ups"] and data["outbox"] and data["label_corrections"]
    [merge] = data["merges"]
    assert (merge["source_id"], merge["target_id"]) == (ids["b"], ids["a"])
    assert merge["reason"] == f"same person: {MARK}" and merge["actor"] == "agent1"
    # The rejects naming the person (the ones erasure deletes), and only those.
    [reject] = data["rejects"]
    assert f"tw-{MARK}-bad" in reject["payload"] and reject["reason"]
    stdout = cli("customers", "export", str(ids["b"])).stdout
    assert json.loads(stdout)["customer_id"] == ids["a"]


def strict_json(text: str) -> Any:
    """Parse JSON as the standard defines it: NaN and Infinity are not numbers there."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_export_is_valid_json_when_stored_numbers_are_not_finite(app, cli):
    ids = plant(app)
    with app.session() as s:
        s.execute(
            sa.update(Interaction)
            .where(Interaction.id == ids["first"])
            .values(reach=float("inf"), sentiment_score=float("nan"))
        )
        if app.engine.dialect.name == "sqlite":  # PostgreSQL's JSON cannot hold NaN at all
            s.execute(
                sa.update(Interaction)
                .where(Interaction.id == ids["first"])
                .values(raw={"score": float("nan"), "ratio": float("-inf"), "ok": 1.5})
            )
    data = strict_json(cli("customers", "export", str(ids["a"])).stdout)
    first = next(i for i in data["interactions"] if i["id"] == ids["first"])
    assert first["reach"] is None and first["sentiment_score"] is None
    if app.engine.dialect.name == "sqlite":
        assert first["raw"] == {"score": None, "ratio": None, "ok": 1.5}
    client = SyncClient(create_app(app))
    r = client.get(f"/api/v1/customers/{ids['a']}/export", headers=auth(make_key(app, "admin")))
    assert r.status_code == 200 and strict_json(r.text)["customer_id"] == ids["a"]


def test_retention_dry_run_then_apply(app, cli):
    ids = plant(app)
    cases.transition(app, ids["ctrl_case"], "resolved", actor="agent1", note=f"ok {CONTROL}")
    cases.transition(app, ids["ctrl_case"], "closed", actor="agent1")
    app.config.retention = app.config.retention.model_copy(
        update={"raw_payloads": 30, "closed_cases": 30, "rejects": 30, "outbox_bodies": 30}
    )
    later = utcnow() + timedelta(days=31)
    with app.session() as s:
        dry = apply_retention(s, app.config.retention, now=later, dry_run=True)
    assert dry.classes["raw_payloads"]["interactions"] == 1
    assert dry.classes["rejects"]["rejects"] == 1
    closed = dry.classes["closed_cases"]
    assert closed["interactions"] == 1 and closed["cases"] == 1 and closed["case_events"] >= 1
    assert scan(app.engine, [MARK])  # a dry run changes nothing
    with app.session() as s:
        done = apply_retention(s, app.config.retention, now=later)
    assert done.classes == dry.classes
    with app.session() as s:
        again = apply_retention(s, app.config.retention, now=later, dry_run=True)
        assert all(n == 0 for c in again.classes.values() for n in c.values())
        ctrl = s.scalar(sa.select(Interaction).where(Interaction.external_id == "ctrl-1"))
        assert (
            ctrl is not None
            and ctrl.text == EXPIRED
            and ctrl.created_at == T0 + timedelta(minutes=9)
        )
        case = s.get(Case, ids["ctrl_case"])
        assert case is not None and case.subject is None and case.status == "closed"
        first = s.get(Interaction, ids["first"])
        assert first is not None and first.raw is None and MARK in first.text  # open case
    assert scan(app.engine, [CONTROL]) == {"identities.handle", "customers.display_name"}
    # The command reports per class; nothing is configured in the CLI's own config.
    out = cli("retention", "apply", "--dry-run")
    assert "nothing to do" in out.stdout or "would go" in out.stdout


def messenger(*events: tuple[str, str, str], time: int = 1520544816000) -> dict[str, Any]:
    """A page webhook body with one Messenger message per ``(mid, sender, text)``."""
    return {
        "object": "page",
        "entry": [
            {
                "id": FB_PAGE,
                "time": time,
                "messaging": [
                    {
                        "sender": {"id": sender},
                        "recipient": {"id": FB_PAGE},
                        "timestamp": 1520544815000,
                        "message": {"mid": mid, "text": text},
                    }
                    for mid, sender, text in events
                ],
            }
        ],
    }


def test_a_redelivered_erased_message_keeps_no_body(app, cli, scrm_database_url):
    app.config = server_config(scrm_database_url, process_webhooks=False)
    client = SyncClient(create_app(app))
    theirs = (f"m.{MARK}", f"{MARK}-psid", f"Siparişim nerede? {MARK}@example.com")
    other = ("m.other", "ctrl-psid", f"Kargom gecikti {CONTROL}")

    def deliver(payload: dict[str, Any]) -> str:
        body = body_of(payload)
        r = client.post("/webhooks/facebook", content=body, headers=facebook_signature(body))
        assert r.status_code == 200
        return str(r.json()["status"])

    assert deliver(messenger(theirs)) == "accepted"
    cli("inbox", "process")
    [it] = app.interactions()
    assert (
        it.customer_id is not None and app.customer(it.customer_id).email == f"{MARK}@example.com"
    )
    cli("customers", "erase", str(it.customer_id), "--yes")
    assert scan(app.engine, [MARK]) == set()

    # Facebook redelivers it with different bytes: recognised before it is stored.
    assert deliver(messenger(theirs, time=1520544899000)) == "duplicate"
    assert scan(app.engine, [MARK]) == set()
    with app.session() as s:
        row = s.scalars(sa.select(InboxPayload).order_by(InboxPayload.id.desc())).first()
        assert row is not None and (row.body, row.status) == (ERASED, "processed")

    # Redelivered next to someone else's new message: that one is stored, and the body goes
    # once it is processed.
    assert deliver(messenger(theirs, other, time=1520544999000)) == "accepted"
    assert "processed 1" in cli("inbox", "process").stdout
    assert [i.external_id for i in app.interactions()].count("m.other") == 1
    assert scan(app.engine, [MARK]) == set()
    assert scan(app.engine, [CONTROL]) >= {"interactions.text"}
    assert "inbox.body" not in scan(app.engine, [CONTROL])


def test_inbox_bodies_are_kept_30_days_by_default(app, cli, scrm_database_url):
    assert RetentionConfig().inbox_bodies == 30
    app.config = server_config(scrm_database_url)
    client = SyncClient(create_app(app))
    body = body_of(messenger(("m.1", "psid-1", f"Merhaba {MARK}")))
    client.post("/webhooks/facebook", content=body, headers=facebook_signature(body))
    with app.session() as s:
        early = apply_retention(s, app.config.retention, now=utcnow() + timedelta(days=29))
        assert early.classes["inbox_bodies"] == {"inbox": 0}
        late = apply_retention(s, app.config.retention, now=utcnow() + timedelta(days=31))
        assert late.classes["inbox_bodies"] == {"inbox": 1}
    assert "inbox.body" not in scan(app.engine, [MARK])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    case=st.one_of(
        st.binary(max_size=300).map(lambda b: (b, set())),
        json_values.map(lambda v: (json.dumps(v).encode(), set())),
        st.lists(st.sampled_from(["m.gone", "m.new", "m.other"]), min_size=1, max_size=3).map(
            lambda mids: (body_of(messenger(*((m, "psid-h", "hi") for m in mids))), set(mids))
        ),
    )
)
@example(case=(b"\x00", set()))  # a raw NUL: PostgreSQL refuses it in text
@example(case=(b'{"entry": [\x00]}', set()))
def test_any_body_after_an_erasure_is_stored_unless_all_its_messages_were_erased(
    app, scrm_database_url, case: tuple[bytes, set[str]]
) -> None:
    body, mids = case
    app.config = server_config(scrm_database_url, process_webhooks=False)
    if not app.interactions(limit=1):  # once per database: one erased message, m.gone
        first = inbox_ops.store(app, "facebook", body_of(messenger(("m.gone", "psid-g", "x"))))
        inbox_ops.process_one(app, first[0])
        with app.session() as s:
            erase_customer(s, app.interactions()[0].customer_id, "dpo", app.hooks)
    inbox_id, new = inbox_ops.store(app, "facebook", body)
    with app.session() as s:
        row = s.get(InboxPayload, inbox_id)
        assert row is not None
        if mids == {"m.gone"}:
            assert (row.body, row.status) == (ERASED, "processed") and not new
        elif new:  # (not new: the same bytes came in an earlier example)
            assert row.body == clean_text(body.decode("utf-8", "replace"))[0]
            assert row.status == "pending"
