"""The native form of the bundled sample (``sample/facebook.jsonl``) means the same messages.

``sample/facebook.jsonl`` holds the webhook bodies Meta would have sent for the
``channel == "facebook"`` lines of scrm's ``interactions.jsonl``.  What a webhook does not
carry is not invented, so these differ on purpose: Messenger senders have no name, comments
carry no like counts, the page's replies name no recipient, e-mail addresses are known
only where a customer typed one into a Messenger message, and Messenger messages do not say
which message they answer.  And a comment's conversation is the top-level comment, not the
post the interchange lines name (see ``docs/channels/facebook.md``).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from scrm_facebook.channel import FacebookChannel

from scrm.core.app import Scrm
from scrm.core.schemas import Direction, InboundInteraction

NATIVE = Path(__file__).parent.parent / "sample" / "facebook.jsonl"


def _interchange() -> list[InboundInteraction]:
    path = resources.files("scrm") / "data" / "sample" / "interactions.jsonl"
    with path.open(encoding="utf-8") as f:
        lines = [InboundInteraction.model_validate_json(line) for line in f if line.strip()]
    return [i for i in lines if i.channel == "facebook"]


def _conversation(it: InboundInteraction) -> str | None:
    """The thread key the plugin gives ``it``: a comment's top-level comment, or its parent."""
    if not it.public or it.raw is None or it.raw.get("field") != "feed":
        return it.thread_key
    if it.in_reply_to:
        return it.in_reply_to
    return it.thread_key if it.direction is Direction.OUTBOUND else it.external_id


def _deliveries() -> int:
    """One webhook delivery per line, one message per delivery."""
    return len(NATIVE.read_bytes().splitlines())


def _native(channel: FacebookChannel) -> list[InboundInteraction]:
    out: list[InboundInteraction] = []
    with NATIVE.open("rb") as f:
        for raw in f:
            out.extend(channel.parse(json.loads(raw)))
    return out


def test_the_native_sample_yields_the_same_interactions(channel: FacebookChannel) -> None:
    want, got = _interchange(), _native(channel)
    assert len(want) == len(got) == _deliveries()
    for w, g in zip(want, got, strict=True):
        where = w.external_id
        assert g.external_id == w.external_id, where
        assert g.text == w.text, where
        # Messenger timestamps have milliseconds; the interchange lines were cut to seconds.
        assert g.created_at.replace(microsecond=0) == w.created_at, where
        assert g.thread_key == _conversation(w), where
        assert g.direction == w.direction, where
        assert g.public == w.public, where
        assert g.author.external_id == w.author.external_id, where
        if w.public:  # comments: the webhook names the author and the parent comment
            assert g.author.display_name == w.author.display_name, where
            assert g.in_reply_to == w.in_reply_to, where
        if w.direction is Direction.OUTBOUND:
            assert g.author.display_name == w.author.display_name == "Acme Türkiye", where
            if not w.public:
                assert g.recipient is not None and w.recipient is not None, where
                assert g.recipient.external_id == w.recipient.external_id, where
        elif not w.public and w.author.email and w.author.email in w.text:
            assert g.author.email == w.author.email, where  # typed by the customer
        else:
            assert g.author.email is None, where


def test_the_native_sample_is_escaped_like_meta_sends_it() -> None:
    raw = NATIVE.read_bytes()
    assert raw.isascii() and b"\\u00e7" in raw


def test_the_native_sample_ingests_cleanly(app: Scrm, cli) -> None:
    out = json.loads(cli("ingest", "--channel", "facebook", str(NATIVE), "--json").stdout)
    assert (out["stored"], out["rejected"]) == (_deliveries(), 0)
    again = json.loads(cli("ingest", "--channel", "facebook", str(NATIVE), "--json").stdout)
    assert (again["stored"], again["duplicates"]) == (0, _deliveries())
    # A Messenger customer who typed an e-mail address and one who wrote twice are each one customer.
    emre = [
        i
        for i in app.interactions(channel="facebook", limit=500)
        if i.thread_key == "messenger:7283910045512783"
    ]
    assert len({i.customer_id for i in emre}) == 1
