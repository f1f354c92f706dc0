"""Shared by the feeds tests: where the feed files are, the demo brand's terms, a clock.

A module of its own (not conftest): the plugins' test folders run in one pytest session, and
``from conftest import ...`` would find another plugin's conftest.
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"
SAMPLE = Path(__file__).parents[1] / "sample"
#: The demo brand's names, as an operator would write them.
TERMS = ["Acme", "Acme Kargo"]
#: path on the server -> (file, content type)
FEEDS = {
    "/blog/feed/": ("wordpress-rss2.xml", "application/rss+xml; charset=UTF-8"),
    "/blogger/feeds/posts/default": ("blogger-atom.xml", "application/atom+xml; charset=UTF-8"),
    "/feeds/videos.xml": ("youtube-channel.xml", "text/xml; charset=UTF-8"),
    "/forum/feed.json": ("forum-feed.json", "application/feed+json"),
    "/haber/rss": ("rss1.rdf", "application/rdf+xml"),
}


class Clock:
    """A Unix clock the test moves by hand."""

    def __init__(self, now: float = 1729590000.0) -> None:  # 2024-10-22 09:40 UTC
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


#: Nested entities: a 1 GB string from 1 kB (refused before any parser sees it).
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>t</title><item><title>Acme &lol9;</title>
<link>https://x.example/1</link></item></channel></rss>"""
