"""Time every text path on hostile text against the same path on ordinary prose (issue 17).

    .venv/bin/python bench/text.py [--n 100000] [--runs 3]

For each path (tokenize, URL finding, classification, promise detection, e-mail parsing, the
Facebook, Twitter and Mastodon mappings) and each adversarial input of ``--n`` characters ("a." and
"a@" repeated, runs of blanks, newlines and quote markers, one long word, hyphenated words,
Turkish letters), prints the CPU time of this thread (best of ``--runs``) and its ratio to
the same path on ``--n`` characters of the bundled sample's real messages.  A ratio near 1
means hostile text costs what prose costs; before issue 17 the URL pattern alone took 44 s on
40,000 characters of "a.".
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from email.message import EmailMessage
from importlib import resources
from typing import Any

from scrm_email.parse import parse_message
from scrm_facebook.webhook import FeedMapper
from scrm_mastodon.mapping import Mapper as MastodonMapper
from scrm_twitter.mapping import Mapper

from scrm.core.promises import detect_promise
from scrm.core.text import find_urls, tokenize
from scrm.plugins.classifier import RuleClassifier

HOSTILE = {
    "a. repeated": "a.",
    "a@ repeated": "a@",
    "spaces": " ",
    "newlines": "\n",
    "newline, space": "\n ",
    "> quote markers": "> ",
    "> quoted lines": ">\n",
    "one long word": "a",
    "a-a-a": "a-",
    "Turkish letters": "Şikayetçiyim ığüöİ ",
}
#: Hostile HTML for the Mastodon mapping, which reads a status's content as HTML: lone and
#: unclosed tags, comments, quotes, anchors and entities repeated.
HOSTILE_HTML = {
    "< repeated": "<",
    "<a repeated": "<a",
    "one unclosed tag": "<a x",
    "unclosed quote": '<a href="',
    "attribute names": "<a b c=d ",
    "comments": "<!--",
    "paragraphs": "<p>",
    "anchors": '<a href="https://x.example">x',
    "entities": "&amp;&#x131;&",
    "script": "<script>",
}


def prose(n: int) -> str:
    """Return ``n`` characters of the bundled sample's real messages, one after another."""
    lines = resources.files("scrm").joinpath("data/sample/interactions.jsonl").read_text("utf-8")
    texts = [json.loads(line)["text"] for line in lines.splitlines() if line.strip()]
    # Without the e-mails that quote an earlier message: promise detection stops reading at a
    # quote, which would make the baseline the first 12,000 characters only.
    texts = [t for t in texts if not re.search(r"^\s*>|wrote:|yazd[ıi]:", t, re.MULTILINE)]
    out = "\n\n".join(texts)
    return (out * (n // len(out) + 1))[:n]


def email_bytes(text: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Ali <ali@example.com>", "destek@acme.com.tr", "s"
    msg["Date"], msg["Message-ID"] = "Mon, 21 Oct 2024 09:30:06 +0300", "<b@example.com>"
    msg.set_content(text)
    return msg.as_bytes()


def messenger_and_comment(text: str) -> dict[str, Any]:
    dm = {"mid": "m_1", "text": text}
    event = {"sender": {"id": "7"}, "recipient": {"id": "1"}, "timestamp": 1457764197627}
    value = {"item": "comment", "verb": "add", "comment_id": "2_3", "post_id": "1_2"}
    value |= {"from": {"id": "7", "name": "Ali"}, "created_time": 1520544814, "message": text}
    entry = {"id": "1", "messaging": [event | {"message": dm}]}
    entry["changes"] = [{"field": "feed", "value": value}]
    return {"object": "page", "entry": [entry]}


def tweet_page(text: str) -> dict[str, Any]:
    return {
        "data": [{"id": "5", "author_id": "7", "text": text, "created_at": "2024-10-21T09:30:06Z"}]
    }


def mastodon_status(text: str) -> dict[str, Any]:
    """A Mastodon status whose HTML content is ``text``."""
    account = {"id": "7", "acct": "ali", "username": "ali", "display_name": "Ali"}
    return {"id": "5", "created_at": "2024-10-21T09:30:06.000Z", "content": text,
            "visibility": "public", "account": account}  # fmt: skip


def paths() -> dict[str, tuple[Callable[[str], Any], Callable[[Any], object]]]:
    """Return each path as (build its input from a text, run it)."""
    classifier, fb, tw = RuleClassifier(), FeedMapper(page_id="1"), Mapper({"9"})
    md = MastodonMapper({"9"})
    return {
        "tokenize": (str, tokenize),
        "find_urls": (str, find_urls),
        "classify": (str, classifier.classify),
        "detect_promise": (str, detect_promise),
        "e-mail parse": (email_bytes, parse_message),
        "Facebook mapping": (messenger_and_comment, lambda p: list(fb.parse(p))),
        "Twitter mapping": (tweet_page, lambda p: list(tw.parse(p))),
        "Mastodon mapping": (mastodon_status, lambda p: list(md.parse(p))),
    }


def cpu(run: Callable[[Any], object], arg: Any, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.thread_time()
        run(arg)
        best = min(best, time.thread_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="characters of each input")
    parser.add_argument("--runs", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    baseline = prose(args.n)
    print(f"{args.n:,} characters; CPU ms, best of {args.runs}; ratio = hostile / prose")
    print(f"{'path':<18}{'prose':>9}  {'worst input':<18}{'worst':>9}{'ratio':>8}   all ratios")
    for name, (build, run) in paths().items():
        run(build("warm up: a.com a@b.co"))
        base = cpu(run, build(baseline), args.runs)
        times = {
            label: cpu(run, build((unit * (args.n // len(unit) + 1))[: args.n]), args.runs)
            for label, unit in HOSTILE.items()
        }
        worst = max(times, key=lambda k: times[k])
        ratios = " ".join(f"{times[k] / base:.1f}" for k in HOSTILE)
        print(
            f"{name:<18}{base * 1000:>9.2f}  {worst:<18}{times[worst] * 1000:>9.2f}"
            f"{times[worst] / base:>8.1f}   {ratios}"
        )
    print("all ratios, in order:", ", ".join(HOSTILE))
    build, run = paths()["Mastodon mapping"]
    base = cpu(run, build(baseline), args.runs)
    print(f"Mastodon mapping on hostile HTML (prose: {base * 1000:.2f} ms)")
    for label, unit in HOSTILE_HTML.items():
        t = cpu(run, build((unit * (args.n // len(unit) + 1))[: args.n]), args.runs)
        print(f"  {label:<18}{t * 1000:>9.2f} ms{t / base:>8.1f}")


if __name__ == "__main__":
    main()
