"""The bundled sample data (scrm/data/sample) is valid, varied, and shows what the demo relies on.

See scrm/data/sample/README.md for what each part demonstrates.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import scrm
from scrm.core.schemas import Direction, InboundInteraction

SAMPLE = Path(scrm.__file__).parent / "data" / "sample"
INTERACTIONS = SAMPLE / "interactions.jsonl"
PHONE = SAMPLE / "phone.jsonl"

IST = timezone(timedelta(hours=3))
SOCIAL_CHANNELS = {"twitter", "facebook", "email"}
MANUAL_CHANNELS = {"phone", "letter", "fax", "walk_in"}
PHONE_KEYS = {
    "record_id",
    "channel",
    "received_at",
    "caller",
    "direction",
    "agent",
    "text",
    "duration_seconds",
    "wait_seconds",
    "subject",
    "in_reply_to",
}
BRAND_ACCOUNTS = {"583920147", "2871094563", "112233445566778", "destek@acme.com.tr"}


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def interactions() -> list[InboundInteraction]:
    return [InboundInteraction.model_validate_json(line) for line in _lines(INTERACTIONS)]


@pytest.fixture(scope="module")
def messages(interactions) -> list[InboundInteraction]:
    """Each message once: the later re-observations (engagement updates) are left out."""
    seen: set[tuple[str, str]] = set()
    out = []
    for i in interactions:
        if (i.channel, i.external_id) not in seen:
            seen.add((i.channel, i.external_id))
            out.append(i)
    return out


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return [json.loads(line) for line in _lines(PHONE)]


def _received(r: dict) -> datetime:
    return datetime.fromisoformat(r["received_at"])


# A rough guess for channels that do not report a language (e-mail, manual records).
_TR_WORDS = frozenset(
    (
        "ve", "bir", "bu", "için", "icin", "çok", "cok", "de", "da", "mi", "mı", "mu", "mü", "ne",
        "ile", "olarak", "değil", "degil", "ama", "hala", "hâlâ", "gibi", "var", "yok", "sonra",
        "kadar", "size", "bize", "müşteri", "musteri", "merhaba", "teşekkür", "tesekkur", "ederiz",
        "ederim", "rica", "sayın", "talebiniz", "söyledi", "istedi", "olan", "olduğunu", "ben",
        "siz", "biz",
    )
)  # fmt: skip
_EN_WORDS = frozenset(
    (
        "the", "and", "to", "of", "is", "my", "for", "you", "your", "it", "in", "on", "was",
        "with", "we", "i", "a", "that", "this", "our", "please", "are", "be", "have", "not",
    )
)  # fmt: skip


def _guess_language(text: str) -> str:
    words = re.findall(r"[^\W\d_]+", text.casefold())
    tr = sum(w in _TR_WORDS for w in words)
    en = sum(w in _EN_WORDS for w in words)
    if tr == en:
        return "tr" if re.search(r"[çğışöü]", text.casefold()) else "en"
    return "tr" if tr > en else "en"


# ----------------------------------------------------------------------------- validity


def test_every_interaction_line_validates_against_the_schema():
    for n, line in enumerate(_lines(INTERACTIONS), 1):
        try:
            InboundInteraction.model_validate_json(line)
        except Exception as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"interactions.jsonl line {n}: {exc}")


def test_interactions_follow_the_channel_conventions(interactions):
    for i in interactions:
        where = f"{i.channel} {i.external_id}"
        assert i.channel in SOCIAL_CHANNELS, where
        assert i.created_at.utcoffset() is not None, where
        assert i.thread_key, where
        if i.direction is Direction.OUTBOUND:
            assert i.author.external_id in BRAND_ACCOUNTS, where
            assert i.recipient is not None and i.recipient.external_id not in BRAND_ACCOUNTS, where
        else:
            assert i.author.external_id not in BRAND_ACCOUNTS, where
            assert i.recipient is None, where
        assert i.raw, where
        if i.channel == "email":
            assert not i.public and i.language is None and i.subject, where
            assert i.external_id.startswith("<") and i.external_id.endswith(">"), where
            assert i.thread_key.startswith("<"), where
        else:
            assert i.language in {"tr", "en"}, where
            assert i.subject is None, where
        if i.channel == "twitter":
            assert i.external_id.isdigit(), where
            assert i.public == (i.engagement is not None), where
        if i.channel == "facebook":
            if i.public:
                assert re.fullmatch(r"\d+_\d+", i.external_id), where
                assert re.fullmatch(r"112233445566778_\d+", i.thread_key), where
                assert i.engagement is not None, where
            else:
                assert i.external_id.startswith("m_"), where
                assert i.thread_key.startswith("messenger:"), where


def test_every_phone_record_has_the_manual_channel_shape(records):
    ids = [r["record_id"] for r in records]
    assert len(ids) == len(set(ids)), "record_id must be unique"
    for r in records:
        where = r.get("record_id")
        assert set(r) == PHONE_KEYS, where
        assert r["channel"] in MANUAL_CHANNELS, where
        assert r["direction"] in {"inbound", "outbound"}, where
        assert _received(r).utcoffset() is not None, where
        assert r["text"].strip() and r["agent"], where
        caller = r["caller"]
        assert caller["name"], where
        assert caller.get("phone") or caller.get("email") or caller.get("address"), where
        if r["channel"] in {"letter", "fax"}:
            assert r["duration_seconds"] is None, where
        else:
            assert isinstance(r["duration_seconds"], int) and r["duration_seconds"] > 0, where
        # The wait before an agent answered: recorded on every inbound call, nowhere else.
        if (r["channel"], r["direction"]) == ("phone", "inbound"):
            assert isinstance(r["wait_seconds"], int) and 0 <= r["wait_seconds"] <= 3600, where
        else:
            assert r["wait_seconds"] is None, where


def test_ids_are_unique_per_channel_except_engagement_updates(interactions):
    first: dict[tuple[str, str], InboundInteraction] = {}
    updates = 0
    for i in interactions:
        key = (i.channel, i.external_id)
        if key not in first:
            first[key] = i
            continue
        updates += 1
        old = first[key]
        # A re-observation: the same message with new public metrics, nothing else changed.
        assert old.model_dump(exclude={"engagement", "raw"}) == i.model_dump(
            exclude={"engagement", "raw"}
        ), key
        assert old.engagement and i.engagement, key
        assert (
            i.engagement.likes > old.engagement.likes
            and i.engagement.shares > old.engagement.shares
        ), key
    assert updates == 1


def test_replies_point_to_an_earlier_message_in_the_same_channel(interactions, records):
    seen: dict[tuple[str, str], InboundInteraction] = {}
    for i in interactions:
        if i.in_reply_to:
            parent = seen.get((i.channel, i.in_reply_to))
            assert parent is not None, (
                f"{i.channel} {i.external_id} answers an unknown or later message"
            )
            assert parent.created_at < i.created_at
            assert parent.thread_key == i.thread_key, i.external_id
        seen.setdefault((i.channel, i.external_id), i)
    earlier: dict[str, dict] = {}
    for r in records:
        if r["in_reply_to"]:
            parent = earlier.get(r["in_reply_to"])
            assert parent is not None, f"{r['record_id']} answers an unknown or later record"
            assert parent["channel"] == r["channel"] and _received(parent) < _received(r)
        earlier[r["record_id"]] = r


def test_files_are_ordered_by_time_within_each_channel(messages, records):
    last: dict[str, datetime] = {}
    for i in messages:
        assert i.created_at >= last.get(i.channel, i.created_at), (
            f"{i.channel} {i.external_id} out of order"
        )
        last[i.channel] = i.created_at
    times = [_received(r) for r in records]
    assert times == sorted(times)


def test_everything_lies_in_the_sample_week(messages, records):
    start, end = datetime(2024, 10, 20, tzinfo=IST), datetime(2024, 10, 28, tzinfo=IST)
    for t in [i.created_at for i in messages] + [_received(r) for r in records]:
        assert start <= t < end


# ----------------------------------------------------------------------------- mix


def test_volume_and_channel_mix(messages, records):
    by_channel = Counter(i.channel for i in messages) + Counter(r["channel"] for r in records)
    assert sum(by_channel.values()) >= 240
    assert by_channel["twitter"] >= 80
    assert by_channel["facebook"] >= 45
    assert by_channel["email"] >= 45
    assert sum(by_channel[c] for c in MANUAL_CHANNELS) >= 45
    assert all(by_channel[c] >= 3 for c in MANUAL_CHANNELS)
    fb = [i for i in messages if i.channel == "facebook"]
    assert any(i.public for i in fb) and any(not i.public for i in fb), "comments and Messenger"
    tw = [i for i in messages if i.channel == "twitter"]
    assert sum(not i.public for i in tw) >= 8, "DM exchanges"
    assert sum(i.direction is Direction.OUTBOUND for i in messages) >= 40, "brand replies"
    assert any(r["direction"] == "outbound" for r in records), "callbacks"


def test_language_mix_is_about_60_40(messages, records):
    langs = Counter(i.language or _guess_language(i.text) for i in messages)
    langs.update(_guess_language(r["text"]) for r in records)
    assert set(langs) == {"tr", "en"}
    share = langs["tr"] / sum(langs.values())
    assert 0.55 <= share <= 0.70, langs


@pytest.mark.parametrize(
    "phrase",
    [
        "fiyatı ne kadar",  # sales lead
        "how much is the fiber plan",
        "kurumsal teklif",
        "keşke",  # product idea
        "dark mode",
        "aboneliğimi iptal edeceğim",  # churn threat
        "switching to othertel",
        "tüketici hakem heyetine başvuracağım",  # legal threat
        "duman",  # safety: smoking modem
        "kvkk",  # privacy
        "kazandınız",  # spam
        "usdt",
        "takip edene geri takip",
        "berbaaa",  # stretched letters
        "siparis hala gelmedi",  # no diacritics
        "#acmerezalet",
        "rakip",
        "othertel",
    ],
)
def test_the_language_of_real_customers_is_present(messages, records, phrase):
    texts = [i.text.casefold() for i in messages] + [(i.subject or "").casefold() for i in messages]
    texts += [r["text"].casefold() for r in records] + [
        (r["subject"] or "").casefold() for r in records
    ]
    assert any(phrase in t for t in texts), phrase


# ----------------------------------------------------------------------------- people and threads


def test_at_least_eight_people_write_on_two_channels(messages, records):
    channels_by_email: dict[str, set[str]] = defaultdict(set)
    for i in messages:
        if i.direction is Direction.INBOUND and i.author.email:
            channels_by_email[i.author.email].add(i.channel)
    for r in records:
        if r["caller"].get("email"):
            channels_by_email[r["caller"]["email"].lower()].add(r["channel"])
    linked = {e for e, chans in channels_by_email.items() if len(chans) >= 2}
    assert len(linked) >= 8, sorted(channels_by_email.items())


def test_repeat_customers(messages):
    per_author = Counter(
        (i.channel, i.author.external_id) for i in messages if i.direction is Direction.INBOUND
    )
    assert sum(n >= 3 for n in per_author.values()) >= 5


def test_a_four_message_email_exchange(messages):
    threads: dict[str, list[InboundInteraction]] = defaultdict(list)
    for i in messages:
        if i.channel == "email":
            threads[i.thread_key].append(i)
    wanted = [Direction.INBOUND, Direction.OUTBOUND, Direction.INBOUND, Direction.OUTBOUND]
    found = False
    for key, thread in threads.items():
        if [m.direction for m in thread] == wanted:
            assert thread[0].external_id == key and thread[0].in_reply_to is None
            assert [m.in_reply_to for m in thread[1:]] == [m.external_id for m in thread[:-1]]
            assert thread[1].raw["headers"]["References"].split()[0] == key
            found = True
    assert found


def test_public_reply_moves_the_customer_to_dm(messages):
    """Customer tweet -> public brand reply asking for a DM -> customer reply -> DM exchange."""
    by_id = {i.external_id: i for i in messages if i.channel == "twitter"}
    dms = [i for i in messages if i.channel == "twitter" and not i.public]
    found = False
    for reply in by_id.values():
        if reply.direction is Direction.OUTBOUND and reply.public and "DM" in reply.text:
            customer = reply.recipient.external_id
            answered = [
                i
                for i in by_id.values()
                if i.in_reply_to == reply.external_id and i.author.external_id == customer
            ]
            conversation = [d for d in dms if customer in d.thread_key.split("-")]
            if (
                answered
                and any(d.direction is Direction.OUTBOUND for d in conversation)
                and any(d.direction is Direction.INBOUND for d in conversation)
            ):
                found = True
    assert found


# ----------------------------------------------------------------------------- marketing and crisis


def test_campaign_hashtag_mentions(messages):
    tags = ("#acmefiberkampanya", "#acmefiberdeal")
    mentions = [
        i
        for i in messages
        if i.direction is Direction.INBOUND and any(t in i.text.casefold() for t in tags)
    ]
    assert len(mentions) >= 15
    days = {i.created_at.astimezone(IST).date().isoformat() for i in mentions}
    assert min(days) >= "2024-10-22" and max(days) <= "2024-10-26"
    assert {i.language for i in mentions} >= {"tr", "en"}


def test_viral_complaint_is_re_observed_with_growing_engagement(interactions):
    seen: dict[str, InboundInteraction] = {}
    viral = []
    for i in interactions:
        if i.external_id in seen:
            viral.append((seen[i.external_id], i))
        seen.setdefault(i.external_id, i)
    assert len(viral) == 1
    first, update = viral[0]
    assert first.channel == "twitter" and first.public
    assert first.author.followers and first.author.followers >= 40_000
    assert update.engagement.shares >= 10 * first.engagement.shares
    replies = [i for i in seen.values() if i.thread_key == first.thread_key and i is not first]
    assert len(replies) >= 5


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[^\W_]+", text.casefold()))


def test_coordinated_burst_and_a_genuine_complaint_in_the_same_window(messages):
    tweets = [
        i
        for i in messages
        if i.channel == "twitter" and i.public and i.direction is Direction.INBOUND
    ]

    def fresh(i: InboundInteraction) -> bool:
        a = i.author
        return (
            a.account_created_at is not None
            and i.created_at - a.account_created_at < timedelta(days=14)
            and (a.followers or 0) < 10
        )

    suspicious = [i for i in tweets if fresh(i)]
    best: list[InboundInteraction] = []
    for start in suspicious:
        window = [
            i
            for i in suspicious
            if timedelta(0) <= i.created_at - start.created_at <= timedelta(minutes=20)
        ]
        similar = [
            i
            for i in window
            if len(_tokens(i.text) & _tokens(start.text))
            / len(_tokens(i.text) | _tokens(start.text))
            >= 0.3
        ]
        if len(similar) > len(best):
            best = similar
    assert len(best) >= 8
    assert len({i.author.external_id for i in best}) == len(best), "different accounts"
    lo, hi = best[0].created_at, best[-1].created_at
    genuine = [i for i in tweets if lo <= i.created_at <= hi and not fresh(i)]
    assert len(genuine) >= 1
