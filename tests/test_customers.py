"""One customer per person: cross-channel linking, reversible merges, duplicate suggestions."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from helpers import message

from scrm.core.models import CustomerMerge


@pytest.fixture
def scrm_plugins():
    from test_ingest import EverythingIsAComplaint

    return [EverythingIsAComplaint()]


def test_same_email_on_two_channels_is_one_customer(app):
    app.ingest(
        [
            message(
                1,
                author_obj={
                    "external_id": "tw1",
                    "handle": "ayse_y",
                    "email": "Ayse.Yilmaz@Example.com",
                },
            ),
            message(
                "<m1@example.com>",
                "Faturam hatalı",
                channel="email",
                author_obj={
                    "external_id": "ayse.yilmaz@example.com",
                    "email": "ayse.yilmaz@example.com",
                },
            ),
            message(
                "CALL-1",
                "aradı",
                channel="phone",
                author_obj={"external_id": "+905321112233", "phone": "0532 111 22 33"},
            ),
        ]
    )
    customers = app.customers()
    assert len(customers) == 2
    ayse = app.customer(app.interactions(channel="email")[0].customer_id)
    assert {i.channel for i in ayse.identities} == {"twitter", "email"}
    assert {i.linked_by for i in ayse.identities} == {"new", "email"}


def test_a_customer_is_found_by_handle_email_or_phone_however_written(app):
    app.ingest([
        message(1, author_obj={"external_id": "tw1", "handle": "Ayse_Y"}),
        message("CALL-1", "aradı", channel="phone",
                author_obj={"external_id": "+905321112233", "phone": "0532 111 22 33"}),
    ])  # fmt: skip
    ayse = {c.id for c in app.customers(search="@ayse_y")}
    caller = {c.id for c in app.customers(search="+90 (532) 111-22-33")}
    assert len(ayse) == 1 and len(caller) == 1 and ayse != caller
    assert {c.id for c in app.customers(search="05321112233")} == caller
    assert app.customers(search="0532 999 99 99") == []


def test_two_new_identities_of_one_person_in_one_batch_share_a_customer(app):
    app.ingest(
        [
            message(
                1, author_obj={"external_id": "fb1", "email": "can@example.com"}, channel="facebook"
            ),
            message(
                2,
                author_obj={"external_id": "can@example.com", "email": "can@example.com"},
                channel="email",
            ),
        ]
    )
    assert len(app.customers()) == 1


def test_merge_is_audited_and_unmerge_restores_everything(app, cli):
    app.ingest(
        [
            message(1, "kargo gecikti", author="a1", minutes=0),
            message(
                2,
                "fatura yanlış",
                channel="email",
                author_obj={"external_id": "a@example.com"},
                minutes=1,
            ),
        ]
    )
    tw, em = app.interactions()
    a, b = tw.customer_id, em.customer_id
    assert a != b
    out = cli("customers", "merge", str(b), str(a), "--reason", "same person, confirmed by phone")
    assert f"merged customer {b} into {a}" in out.stdout
    # History is intact: b's interaction still names b, but a's timeline includes it.
    assert {i.id for i in app.interactions(customer=a)} == {tw.id, em.id}
    assert app.customer(a).merged == [b]
    assert {i.channel for i in app.customer(a).identities} == {"twitter", "email"}
    # A new message from b's e-mail identity lands on the merged record's open case.
    app.ingest(
        [
            message(
                3,
                "fatura hala yanlış",
                channel="email",
                author_obj={"external_id": "a@example.com"},
                minutes=5,
            )
        ]
    )
    new = app.interactions(channel="email")[-1]
    assert new.customer_id == a
    with app.session() as s:
        [merge] = s.scalars(sa.select(CustomerMerge)).all()
        assert (merge.source_id, merge.target_id, merge.reason) == (
            b,
            a,
            "same person, confirmed by phone",
        )
    cli("customers", "unmerge", str(b))
    assert app.customer(b).merged_into_id is None
    assert app.customer(a).merged == []
    # Exactly as before the merge: b's messages, including the one written meanwhile, are b's.
    assert {i.id for i in app.interactions(customer=a)} == {tw.id}
    assert {i.id for i in app.interactions(customer=b)} == {em.id, new.id}
    with app.session() as s:
        [merge] = s.scalars(sa.select(CustomerMerge)).all()
        assert merge.unmerged_at is not None


def test_unmerge_hands_back_cases_opened_meanwhile(app, cli):
    app.ingest([message(1, "x", author="p"), message(2, "y", author="q", minutes=1)])
    p, q = (i.customer_id for i in app.interactions())
    cli("customers", "merge", str(q), str(p))
    # q writes about something new (billing): the case is opened on the surviving record p...
    app.ingest(
        [message(3, "faturam iki kez kesildi", author="q", minutes=2, thread_key="new-thread")]
    )
    case_id = app.interactions()[-1].case_id
    old_cases = {i.case_id for i in app.interactions()[:2]}
    assert case_id not in old_cases
    assert app.case(case_id).customer_id == p
    out = cli("customers", "unmerge", str(q))
    # ...and goes back to q when the merge is undone, with an audit event.
    assert app.case(case_id).customer_id == q
    assert f"cases returned to it: [{case_id}]" in out.stdout
    assert [e.action for e in app.case(case_id).events][-1] == "customer"
    # p's own case stays with p.
    assert app.case(app.interactions()[0].case_id).customer_id == p


def test_merge_refusals_are_clear(app, cli):
    app.ingest([message(1, author="a"), message(2, author="b")])
    r = cli("customers", "merge", "1", "1", expect=1)
    assert "already one record" in r.stderr
    r = cli("customers", "merge", "1", "99", expect=1)
    assert "no customer 99" in r.stderr
    cli("customers", "merge", "1", "2")
    r = cli("customers", "merge", "1", "2", expect=1)
    assert "already merged" in r.stderr
    r = cli("customers", "unmerge", "2", expect=1)
    assert "not merged" in r.stderr


def test_duplicates_are_suggested_with_evidence_and_nothing_is_merged(app, cli):
    app.ingest(
        [
            message(
                1,
                minutes=1,  # customers are created in the order people wrote
                author_obj={
                    "external_id": "tw9",
                    "handle": "ayseyilmaz",
                    "display_name": "Ayşe Yılmaz",
                },
            ),
            message(
                2,
                minutes=2,  # customers are created in the order people wrote
                channel="facebook",
                author_obj={"external_id": "fb9", "display_name": "ayse yilmaz"},
            ),
            message(
                3,
                minutes=3,  # customers are created in the order people wrote
                channel="phone",
                author_obj={
                    "external_id": "+905551112233",
                    "phone": "+905551112233",
                    "display_name": "Mehmet Demir",
                },
            ),
            message(
                4,
                minutes=4,  # customers are created in the order people wrote
                channel="email",
                author_obj={"external_id": "mdemir@example.com", "display_name": "M. Demir"},
            ),
            message(
                5,
                minutes=5,  # customers are created in the order people wrote
                channel="facebook",
                author_obj={"external_id": "fb10", "display_name": "Zeynep Kaya"},
            ),
        ]
    )
    with app.session() as s:
        from scrm.core.models import Customer, Identity

        # A phone number learned later on the e-mail identity: exact evidence.
        s.execute(
            sa.update(Identity)
            .where(Identity.external_id == "mdemir@example.com")
            .values(phone="+905551112233")
        )
        assert s.scalar(sa.select(sa.func.count()).select_from(Customer)) == 5
    found = json.loads(cli("customers", "duplicates", "--json").stdout)
    pairs = {(d["a"], d["b"]): d for d in found}
    assert (1, 2) in pairs and "similar names" in pairs[(1, 2)]["evidence"][0]
    assert (3, 4) in pairs and any("same phone" in e for e in pairs[(3, 4)]["evidence"])
    assert pairs[(3, 4)]["score"] > pairs[(1, 2)]["score"]
    assert not any(5 in p for p in pairs)
    assert all(c.merged_into_id is None for c in app.customers(include_merged=True))
