"""Two brands with X accounts (Acme two: @AcmeDestek and @AcmeYardim, Globex one): polled
tweets land in the brand of their account, and a reply leaves from the account the customer
wrote to, never from another brand's."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import BRAND, SECRETS, tweet, user
from fake_x import UNAUTHORIZED, FakeX

from scrm.core.app import Scrm
from scrm.core.config import Config
from scrm.core.plugins import get_plugin_manager
from scrm.testing import CliInvoker

CUSTOMER = "2086537338"
GLOBEX = user("7770001112", "GlobexYardim", 5200)
GLOBEX_TOKEN = "fake-oauth2-user-token-globex"
HELP = user("5839201481", "AcmeYardim", 9100)
HELP_TOKEN = "fake-oauth2-user-token-acme-yardim"
WIDE = {"COLUMNS": "250"}
BRANDS = {
    "acme": {"name": "Acme", "accounts": {"twitter": [BRAND["id"], HELP["id"]]}},
    "globex": {"name": "Globex", "accounts": {"twitter": [GLOBEX["id"]]}},
}


@pytest.fixture
def scrm_config(scrm_database_url: str, fake: FakeX, twitter_settings: dict[str, Any]) -> Config:
    """The shared app credentials in [channels.twitter], one table per brand account."""
    fake.add_account(GLOBEX, GLOBEX_TOKEN)
    fake.add_account(HELP, HELP_TOKEN)
    shared = {k: twitter_settings[k] for k in ("base_url", "bearer_token", "consumer_key",
                                               "consumer_secret", "max_results", "backoff")}  # fmt: skip
    acme = {k: twitter_settings[k] for k in ("access_token", "access_token_secret")}
    accounts = {
        "acme": {**acme, "brand_user_id": BRAND["id"]},
        "acme_help": {"user_access_token": HELP_TOKEN, "brand_user_id": HELP["id"]},
        "globex": {"user_access_token": GLOBEX_TOKEN, "brand_user_id": GLOBEX["id"],
                   "search_queries": ["globex"]},
    }  # fmt: skip
    return Config(
        database_url=scrm_database_url,
        channels={"twitter": {**shared, "accounts": accounts}},
        brands=BRANDS,
    )


def texts(app: Scrm, brand: str) -> set[str]:
    return {i.text for i in app.for_brand(brand).interactions(limit=100)}


def test_polled_tweets_land_in_the_brand_of_their_account(app: Scrm, cli: Any, fake: FakeX) -> None:
    fake.add_tweet(tweet("1850000000000000101", CUSTOMER, "@AcmeDestek faturam iki kez kesildi"))
    fake.add_tweet(tweet("1850000000000000102", CUSTOMER, "@GlobexYardim modemim bozuldu"))
    fake.add_tweet(tweet("1850000000000000103", "1402983311", "globex internet yine gitti"))
    out = cli("twitter", "poll", "--once", env=WIDE).stdout
    assert all(s in out for s in ("acme: mentions", "globex: mentions", "globex: search 'globex'"))
    assert texts(app, "acme") == {"@AcmeDestek faturam iki kez kesildi"}
    assert texts(app, "globex") == {"@GlobexYardim modemim bozuldu", "globex internet yine gitti"}
    assert texts(app, "default") == set()
    # each account keeps its own cursors and budget
    assert app.load_state("twitter", "acme/mentions") == {"since_id": "1850000000000000101"}
    assert app.load_state("twitter", "globex/mentions") == {"since_id": "1850000000000000102"}
    assert app.load_state("twitter", "mentions") is None
    assert app.load_state("twitter", "globex/budget")["used"]["search"] == 1


def test_replies_leave_from_the_account_of_the_case_brand(app: Scrm, cli: Any, fake: FakeX) -> None:
    fake.add_tweet(tweet("1850000000000000201", CUSTOMER, "@AcmeDestek kargom nerede"))
    fake.add_tweet(tweet("1850000000000000202", CUSTOMER, "@GlobexYardim hattım kesildi"))
    cli("twitter", "poll", "--once")
    for brand in ("acme", "globex"):
        (case,) = app.for_brand(brand).cases()
        cli("reply", str(case.id), "--text", f"Merhaba, {brand} olarak bakıyoruz.")
    assert cli("outbox", "deliver").stdout.startswith("sent 2,")
    posted = {t["text"]: t for t in fake.tweets.values() if "bakıyoruz" in t["text"]}
    acme, globex = (
        posted["Merhaba, acme olarak bakıyoruz."],
        posted["Merhaba, globex olarak bakıyoruz."],
    )
    assert acme["author_id"] == BRAND["id"] and globex["author_id"] == GLOBEX["id"]
    assert acme["referenced_tweets"] == [{"type": "replied_to", "id": "1850000000000000201"}]
    assert globex["referenced_tweets"] == [{"type": "replied_to", "id": "1850000000000000202"}]
    headers = [c.headers["authorization"] for c in fake.seen("/2/tweets") if c.method == "POST"]
    assert sorted(h.split(" ")[0] for h in headers) == ["Bearer", "OAuth"]
    # the next poll sees both replies as each brand's own messages, on their cases
    cli("twitter", "poll", "--once")
    for brand in ("acme", "globex"):
        ours = [
            i for i in app.for_brand(brand).interactions(limit=100) if i.direction == "outbound"
        ]
        assert (
            len(ours) == 1 and app.for_brand(brand).case(ours[0].case_id).status == "acknowledged"
        )


def test_a_brand_without_an_x_account_is_never_answered_from_another(
    app: Scrm, cli: Any, fake: FakeX
) -> None:
    # a tweet that reached the default brand (nobody owns its account): no account speaks for it
    app.ingest([{"channel": "twitter", "external_id": "1850000000000000301",
                 "text": "merhaba", "created_at": "2024-10-26T09:15:02Z",
                 "author": {"external_id": CUSTOMER}, "public": True}])  # fmt: skip
    (case,) = app.for_brand("default").cases()
    cli("reply", str(case.id), "--text", "Merhaba")
    out = cli("outbox", "deliver", expect=None)
    assert out.stdout.startswith("sent 0, retrying 0, failed 1")
    assert "brand 'default' has no twitter account to reply from" in out.stderr
    assert [c for c in fake.seen("/2/tweets") if c.method == "POST"] == []
    (row,) = json.loads(cli("outbox", "list", "--json").stdout)
    assert row["status"] == "failed" and "no twitter account" in row["last_error"]


def test_an_account_whose_token_fails_does_not_stop_the_others(
    app: Scrm, cli: Any, fake: FakeX
) -> None:
    fake.add_tweet(tweet("1850000000000000401", CUSTOMER, "@GlobexYardim fatura sorunu"))
    fake.fail(f"/2/users/{BRAND['id']}/mentions", 401, UNAUTHORIZED)
    out = cli("twitter", "poll", "--once", env=WIDE).stdout
    assert "acme: account" in out and "X rejected" in out and "401" in out
    assert texts(app, "globex") == {"@GlobexYardim fatura sorunu"}


def test_the_single_account_belongs_to_the_brand_listing_it(
    scrm_database_url: str, fake: FakeX, twitter_settings: dict[str, Any]
) -> None:
    config = Config(database_url=scrm_database_url, channels={"twitter": twitter_settings},
                    brands={"acme": BRANDS["acme"]})  # fmt: skip
    fake.add_tweet(tweet("1850000000000000501", CUSTOMER, "@AcmeDestek iade bekliyorum"))
    app = Scrm(config, get_plugin_manager())
    app.upgrade()
    cli = CliInvoker(app)
    cli("twitter", "poll", "--once")
    assert texts(app, "acme") == {"@AcmeDestek iade bekliyorum"}
    (case,) = app.for_brand("acme").cases()
    cli("reply", str(case.id), "--text", "İade başlatıldı.")
    assert cli("outbox", "deliver").stdout.startswith("sent 1,")
    (post,) = [c for c in fake.seen("/2/tweets") if c.method == "POST"]
    assert post.headers["authorization"].startswith("OAuth ")
    assert app.load_state("twitter", "mentions") is not None  # the single account's cursors


def test_a_brand_polls_its_own_accounts_only(app: Scrm, cli: Any, fake: FakeX) -> None:
    fake.add_tweet(tweet("1850000000000000601", CUSTOMER, "@AcmeDestek paketim kayıp"))
    fake.add_tweet(tweet("1850000000000000602", CUSTOMER, "@GlobexYardim fatura yüksek"))
    out = cli("--brand", "globex", "twitter", "poll", "--once", env=WIDE).stdout
    assert "globex: mentions" in out and "acme" not in out
    assert fake.seen(f"/2/users/{BRAND['id']}/mentions") == []
    assert texts(app, "globex") == {"@GlobexYardim fatura yüksek"}
    assert app.load_state("twitter", "acme/mentions") is None
    assert json.loads(cli("rejects", "list", "--json").stdout) == []


def test_account_activity_deliveries_are_read_by_the_account_they_are_for(app: Scrm) -> None:
    from scrm_twitter.webhooks import receive, sign

    def delivery(for_user: str, tid: str, author: dict[str, Any], text: str) -> dict[str, Any]:
        return {"for_user_id": for_user, "tweet_create_events": [{
            "created_at": "Wed Feb 05 08:39:31 +0000 2020", "id_str": tid, "text": text,
            "user": {"id_str": author["id"], "screen_name": author["username"],
                     "name": author["name"], "followers_count": 10},
        }]}  # fmt: skip

    customer = user(CUSTOMER, "aysylmz")
    for body in (
        delivery(GLOBEX["id"], "1850000000000000701", customer, "@GlobexYardim iade?"),
        delivery(GLOBEX["id"], "1850000000000000702", GLOBEX, "Merhaba, DM atar mısınız?"),
        delivery(BRAND["id"], "1850000000000000703", customer, "@AcmeDestek kargo?"),
    ):
        raw = json.dumps(body).encode()
        receive(app, {"x-twitter-webhooks-signature": sign(SECRETS["consumer_secret"], raw)}, raw)
    globex = {i.text: i.direction for i in app.for_brand("globex").interactions(limit=10)}
    assert globex == {"@GlobexYardim iade?": "inbound", "Merhaba, DM atar mısınız?": "outbound"}
    assert texts(app, "acme") == {"@AcmeDestek kargo?"}


def replies_by_parent(fake: FakeX) -> dict[str, dict[str, Any]]:
    """The brand's posted replies, by the tweet each answers."""
    return {
        t["referenced_tweets"][0]["id"]: t
        for t in fake.tweets.values()
        if t["author_id"] in (BRAND["id"], HELP["id"], GLOBEX["id"]) and "referenced_tweets" in t
    }


def test_a_reply_leaves_from_the_account_the_customer_wrote_to(
    app: Scrm, cli: Any, fake: FakeX
) -> None:
    fake.add_tweet(tweet("1850000000000000801", CUSTOMER, "@AcmeDestek faturam yanlış geldi"))
    fake.add_tweet(tweet("1850000000000000802", "1402983311", "@AcmeYardim modemim yanmıyor"))
    cli("twitter", "poll", "--once")
    stored = json.loads(cli("interactions", "list", "--json").stdout)
    assert {i["external_id"]: i["account"] for i in stored} == {
        "1850000000000000801": BRAND["id"],
        "1850000000000000802": HELP["id"],
    }
    for case in app.for_brand("acme").cases():
        cli("reply", str(case.id), "--text", f"Merhaba, {case.id} numaralı kaydınıza bakıyoruz.")
    queued = {r["case_id"]: r["account"] for r in json.loads(cli("outbox", "list", "--json").stdout)}
    assert sorted(queued.values()) == sorted([BRAND["id"], HELP["id"]])
    assert cli("outbox", "deliver").stdout.startswith("sent 2,")
    posted = replies_by_parent(fake)
    assert posted["1850000000000000801"]["author_id"] == BRAND["id"]
    assert posted["1850000000000000802"]["author_id"] == HELP["id"]
    helped = [c for c in fake.seen("/2/tweets") if c.method == "POST" and HELP_TOKEN in
              c.headers["authorization"]]  # fmt: skip
    assert len(helped) == 1
    # the replies are recorded as sent from those accounts
    ours = [i for i in app.for_brand("acme").interactions(limit=100) if i.direction == "outbound"]
    assert sorted(str(i.account) for i in ours) == sorted([BRAND["id"], HELP["id"]])
    sent = {r["case_id"]: r["account"] for r in json.loads(cli("outbox", "list", "--json").stdout)}
    assert sent == queued


def test_the_latest_message_of_the_case_decides_the_account(
    app: Scrm, cli: Any, fake: FakeX
) -> None:
    first = tweet("1850000000000000811", CUSTOMER, "@AcmeDestek kargom nerede?")
    fake.add_tweet(first)
    fake.add_tweet(tweet("1850000000000000812", CUSTOMER, "@AcmeYardim hâlâ cevap yok",
                         reply_to=first))  # fmt: skip
    cli("twitter", "poll", "--once")
    (case,) = app.for_brand("acme").cases()
    assert [i.account for i in app.interactions(case=case.id)] == [BRAND["id"], HELP["id"]]
    cli("reply", str(case.id), "--text", "Kargonuzu hemen soruyoruz.")
    assert cli("outbox", "deliver").stdout.startswith("sent 1,")
    (reply,) = replies_by_parent(fake).values()
    assert reply["author_id"] == HELP["id"]
    assert reply["referenced_tweets"] == [{"type": "replied_to", "id": "1850000000000000812"}]


def test_a_mention_of_a_further_id_is_answered_with_the_tables_credentials() -> None:
    from scrm_twitter.channel import TwitterChannel

    x = TwitterChannel({"brand_user_id": BRAND["id"], "other_brand_user_ids": [HELP["id"]]})
    assert x.account_ids() == (BRAND["id"], HELP["id"])
    assert x.reply_account(HELP["id"]) == x.reply_account(None) == BRAND["id"]
