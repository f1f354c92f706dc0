"""What reading a feed costs, and what a hostile one costs (issue 22).

Times, as CPU time of the thread (best of ``--runs``), each against a baseline measured in the
same run on the same machine:

* parsing and matching a feed of ``max_bytes`` (5 MiB of RSS 2.0 items in Turkish) against
  :func:`scrm.core.text.normalize` over the same text (what matching alone must cost);
* refusing hostile documents (billion laughs, quadratic blow-up, 5 MiB of junk) against
  parsing the plugin's small real-world RSS 2.0 test feed;
* the entity guard alone over 5 MiB against the whole parse.

    .venv/bin/python bench/feeds.py [--runs 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from scrm_feeds.match import Matcher
from scrm_feeds.parse import FeedError, _check_entities, parse_feed

from scrm.core.text import normalize

ROOT = Path(__file__).resolve().parents[1]
SMALL = (ROOT / "plugins/feeds/tests/data/wordpress-rss2.xml").read_bytes()
MAX = 5 * 1024 * 1024
ITEM = (
    "<item><title>Acme kargo {n} İSTANBUL aktarma</title><link>https://b.example/{n}</link>"
    "<guid>https://b.example/?p={n}</guid><pubDate>Tue, 22 Oct 2024 08:30:00 +0000</pubDate>"
    "<description><![CDATA[<p>Siparişim üç gündür bekliyor, müşteri hizmetleri yanıt vermiyor. "
    "Işık ve ılık bir gün; ACME'nin kargosu hâlâ yok.</p>]]></description></item>"
)


def big_feed() -> tuple[bytes, str]:
    items, n, size = [], 0, 0
    while size < MAX - 2000:
        it = ITEM.format(n=n)
        items.append(it)
        size += len(it.encode())
        n += 1
    doc = '<rss version="2.0"><channel><title>b</title>' + "".join(items) + "</channel></rss>"
    return doc.encode(), " ".join(items)


def best(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.thread_time()
        fn()
        times.append(time.thread_time() - t)
    return min(times)


def refused(body: bytes) -> Callable[[], object]:
    def go() -> object:
        try:
            return parse_feed(body, max_items=10_000)
        except FeedError as exc:
            return exc

    return go


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    runs = ap.parse_args().runs
    body, text = big_feed()
    matcher = Matcher(["Acme", "Acme Kargo", "İstanbul"])

    def parse_and_match() -> None:
        feed = parse_feed(body, max_items=10_000)
        for item in feed.items:
            matcher.find(item.title, item.text)

    base = best(lambda: normalize(text), runs)
    full = best(parse_and_match, runs)
    guard = best(lambda: _check_entities(body), runs)
    n_items = len(parse_feed(body, max_items=10_000).items)
    print(f"5 MiB feed, {n_items} items: parse + match {full:.2f} s "
          f"({full / n_items * 1e6:.0f} µs an item); normalize alone {base:.2f} s; "
          f"ratio {full / base:.1f}x")  # fmt: skip
    print(f"entity guard over 5 MiB: {guard * 1000:.1f} ms, {guard / full:.2%} of the parse")

    small = best(lambda: parse_feed(SMALL), runs)
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(b'<!ENTITY a%d "' % i + b"&a%d;" % (i - 1) * 10 + b'">' for i in range(1, 10))
        + b"]><rss><channel><item><title>&a9;</title></item></channel></rss>"
    ).replace(b"&a0;", b"&a;")
    quad = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + b"A" * 100_000 + b'">]><rss>'
            + b"&a;" * 1_000_000 + b"</rss>")  # fmt: skip
    junk = b"<rss><channel><item><title>" + b"<a&b" * (MAX // 4) + b"</rss>"
    print(f"baseline: the 4-item WordPress test feed parses in {small * 1000:.1f} ms")
    for name, doc in (
        ("billion laughs", laughs),
        ("quadratic blow-up", quad),
        ("5 MiB junk", junk),
    ):
        t = best(refused(doc), runs)
        print(f"{name} ({len(doc):,} bytes): {t * 1000:.1f} ms, {t / small:.1f}x the test feed")


if __name__ == "__main__":
    main()
