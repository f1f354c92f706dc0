"""Ingest through the public interfaces: idempotency, rejects, threads, batching."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from helpers import message

from scrm import hookimpl
from scrm.core.models import Case, Interaction, Reject
from scrm.core.schemas import Classification, Kind


class EverythingIsAComplaint:
    """A deterministic classifier, so these tests exercise the pipeline, not the rules."""

    @hookimpl
    def classify_interaction(self, interaction):
        kind = Kind.SPAM if "SPAM" in interaction.text else Kind.COMPLAINT
        sentiment = "positive" if "thanks" in interaction.text else "negative"
        category = "billing" if "fatura" in interaction.text else "other"
        return Classification(kind=kind, sentiment=sentiment, category=category, source="test")


@pytest.fixture
def scrm_plugins():
    return [EverythingIsAComplaint()]


def count(app, model) -> int:
    with app.session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(model))


def test_same_file_twice_stores_nothing_new(cli, app, write_jsonl):
    path = write_jsonl([message(i, author=f"u{i % 7}", minutes=i) for i in range(50)])
    first = json.loads(cli("ingest", str(path), "--json").stdout)
    assert first["stored"] == 50 and first["duplicates"] == 0
    before = (count(app, Interaction), count(app, Case))
    second = json.loads(cli("ingest", str(path), "--json").stdout)
    assert second["stored"] == 0 and second["duplicates"] == 50 and second["cases_opened"] == 0
    assert (count(app, Interaction), count(app, Case)) == before


def test_three_broken_lines_among_a_thousand(cli, app, write_jsonl):
    lines: list = [message(i, author=f"u{i % 40}", minutes=i) for i in range(1000)]
    lines[10] = "{not json"
    bad_time = message(500, minutes=1)
    bad_time["created_at"] = "yesterday"
    lines[500] = bad_time
    lines[998] = message(998) | {"author": {"handle": "no_id"}}
    path = write_jsonl(lines)
    result = cli("ingest", str(path), "--json", expect=3)
    report = json.loads(result.stdout)
    assert report["stored"] == 997
    assert report["rejected"] == 3
    by_line = {r["position"]: r for r in report["rejects"]}
    assert set(by_line) == {11, 501, 999}
    assert "not valid JSON" in by_line[11]["reason"]
    assert by_line[501]["field"] == "created_at"
    assert by_line[999]["field"] == "author.external_id"
    assert count(app, Reject) == 3
    # The rejects are kept as received, listable, and the same file again adds none.
    listed = json.loads(cli("rejects", "list", "--json").stdout)
    assert listed[0]["payload"] == "{not json"
    cli("ingest", str(path), "--json", expect=3)
    assert count(app, Reject) == 3


def test_rejects_can_be_fixed_by_a_plugin_and_replayed(app, cli, write_jsonl, register_plugin):
    path = write_jsonl([message(1, customer_id=4242)])
    report = json.loads(cli("ingest", str(path), "--json", expect=3).stdout)
    assert report["rejects"][0]["reason"] == "no customer 4242"
    # Nothing to fix it with yet: replay fails again and counts the attempt.
    cli("rejects", "replay", "--all", expect=3)
    [r] = app.rejects()
    assert r.attempts == 2 and r.status == "pending"
    # Create the customer the record names, then replay succeeds.
    app.ingest([message(2, author="someone")])
    with app.session() as s:
        s.execute(sa.update(Reject).values(payload=json.dumps(message(1, customer_id=1))))
    out = cli("rejects", "replay", "--all")
    assert "replayed 1" in out.stdout
    assert app.rejects() == []
    assert app.rejects(status="replayed")[0].id == r.id


def test_stdin_and_small_batches(app, cli):
    app.config = app.config.model_copy(update={"batch_size": 7})
    data = "".join(json.dumps(message(i, author=f"u{i}", minutes=i)) + "\n" for i in range(30))
    report = json.loads(cli("ingest", "-", "--json", input=data).stdout)
    assert report["stored"] == 30


def test_reply_joins_the_case_and_brand_reply_counts_as_first_response(app):
    app.ingest(
        [
            message(
                "t1",
                "@Acme faturam iki kez kesildi, rezalet",
                author="ayse",
                minutes=0,
                thread_key="t1",
                public=True,
            ),
            message(
                "t2",
                "Merhaba, DM ile iletir misiniz?",
                author="brand",
                minutes=12,
                thread_key="t1",
                in_reply_to="t1",
                direction="outbound",
                public=True,
            ),
            message(
                "t3",
                "DM attım ama dönüş yok",
                author="ayse",
                minutes=30,
                thread_key="t1",
                in_reply_to="t2",
                public=True,
            ),
        ]
    )
    [i1, i2, i3] = app.interactions()
    assert i1.case_id is not None and i1.case_id == i2.case_id == i3.case_id
    assert i2.customer_id == i1.customer_id  # the brand's reply is on the customer's record
    case = app.case(i1.case_id)
    assert case.first_response_at == i2.created_at
    # "DM ile iletir misiniz?" asks the customer to move to private contact: a promise to follow.
    # It also moves the case: contacted, waiting on the customer until they answer.
    assert [e.action for e in case.events] == ["opened", "responded", "promise", "status"]
    assert case.events[2].to_value == "contact_request"
    assert case.status == "contacted"


def test_thread_spanning_batches(app):
    app.config = app.config.model_copy(update={"batch_size": 1})
    app.ingest(
        [
            message("a", "kargom gelmedi", author="x", thread_key="conv"),
            message("b", "hala bekliyorum", author="x", minutes=5, thread_key="conv"),
        ]
    )
    cases = {i.case_id for i in app.interactions()}
    assert len(cases) == 1 and None not in cases


def test_engagement_update_on_reobservation(app):
    first = message(
        "v1",
        "uçuşum iptal edildi, bagajım kayıp",
        author="big",
        public=True,
        engagement={"likes": 10, "shares": 2, "replies": 1, "quotes": 0},
    )
    app.ingest([first])
    later = first | {"engagement": {"likes": 900, "shares": 300, "replies": 50, "quotes": 12}}
    report = app.ingest([later])
    assert (report.stored, report.duplicates, report.updated) == (0, 1, 1)
    [it] = app.interactions()
    assert it.engagement["likes"] == 900


def test_manual_link_and_unknown_customer(app):
    app.ingest([message(1, author="a")])
    [c] = app.customers()
    report = app.ingest(
        [message(2, channel="email", author_obj={"external_id": "a@example.com"}, customer_id=c.id)]
    )
    assert report.stored == 1
    assert len(app.customer(c.id).identities) == 2


def test_spam_is_kept_without_a_case(app):
    app.ingest([message(1, "SPAM Bitcoin kazan! tıkla", public=True)])
    [it] = app.interactions()
    assert it.kind == "spam" and it.case_id is None


@pytest.mark.parametrize("bad", ["", "[1, 2]", '"text"', '{"channel": "Twitter!"}'])
def test_each_bad_line_names_its_problem(cli, write_jsonl, bad):
    path = write_jsonl([bad, message(1)] if bad else [message(1), "   ", message(2)])
    result = cli("ingest", str(path), "--json", expect=None)
    report = json.loads(result.stdout)
    if bad:
        assert result.exit_code == 3 and report["stored"] == 1
        assert report["rejects"][0]["position"] == 1 and report["rejects"][0]["reason"]
    else:
        assert result.exit_code == 0 and report["stored"] == 2


def test_plugin_state_round_trip(app):
    assert app.load_state("twitter", "cursor:mentions") is None
    app.save_state("twitter", "cursor:mentions", {"since_id": "1850000000000000002"})
    app.save_state("twitter", "cursor:mentions", {"since_id": "1850000000000000009"})
    assert app.load_state("twitter", "cursor:mentions") == {"since_id": "1850000000000000009"}


@pytest.mark.parametrize("batch_size", [1, 1000])
def test_a_promise_made_and_kept_inside_one_batch(app, batch_size):
    """The brand asks for a DM, the customer writes privately: the promise is kept whether
    the thread arrives message by message or all in one batch (where the case is new)."""
    app.config = app.config.model_copy(update={"batch_size": batch_size})
    report = app.ingest(
        [
            message(
                "p1", "@Acme faturam iki kez kesildi", author="ayse", thread_key="t1", public=True
            ),
            message(
                "p2",
                "Merhaba, sipariş numaranızı DM ile iletir misiniz?",
                author="brand",
                minutes=5,
                thread_key="t1",
                in_reply_to="p1",
                direction="outbound",
                public=True,
            ),
            message("p3", "numaram 12345", author="ayse", minutes=9, thread_key="t1", public=False),
        ]
    )
    assert report.stored == 3
    [case] = app.cases()
    shown = app.case(case.id)
    assert [(f.kind, f.status) for f in shown.follow_ups] == [("contact_request", "kept")]
    assert shown.follow_up_due is None
    assert shown.waiting_since is None  # the customer's answer restarted the clock


def test_reads_do_not_wait_for_a_writer(app):
    """While a writer holds its transaction (an ingest batch), reads still answer at once
    with the last committed state; on SQLite the writer holds the database's write lock."""
    app.ingest([message(1, author="a")])
    with app.session() as writer:
        writer.execute(sa.update(Case).values(subject="being changed"))
        # Another connection reads while the write transaction is open.
        [case] = app.cases()
        assert case.subject != "being changed"
        assert app.case(case.id).id == case.id
        assert len(app.interactions()) == 1
