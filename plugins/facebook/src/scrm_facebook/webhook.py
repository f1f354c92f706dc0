"""Webhook deliveries: the GET handshake, the signature, and payloads turned into interactions.

A POST body is ``{"object": "page", "entry": [...]}``; each entry carries ``changes`` (page
``feed``: comments and posts, ``created_time`` in **seconds**) and/or ``messaging`` /
``standby`` (Messenger, ``timestamp`` in **milliseconds**).  Every event becomes at most one
:class:`~scrm.core.schemas.InboundInteraction`; reactions, likes, deliveries and reads are
ignored on purpose.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scrm.plugin import (
    MAX_TEXT_LENGTH,
    Attachment,
    Author,
    Direction,
    InboundInteraction,
    ParseError,
)
from scrm_facebook.threads import comment_thread

__all__ = [
    "FeedMapper",
    "SubscriptionError",
    "check_subscription",
    "signature_ok",
    "split_payload",
]

#: Feed items that carry a customer's words; reactions, likes and shares carry none.
POST_ITEMS = frozenset({"post", "status", "photo", "video"})
# Starts only where a run of address characters starts (the match would start there anyway),
# and bounded like a real address: linear on "aaaa…" or "a.a.a…".
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,9}")


class SubscriptionError(ValueError):
    """The webhook verification request is not a valid subscription from Meta."""


def check_subscription(params: Mapping[str, str], verify_token: str | None) -> str:
    """Return ``hub.challenge`` if ``params`` are a valid subscription handshake.

    :raises SubscriptionError: with the reason (answer 403 with it).
    """
    if not verify_token:
        raise SubscriptionError("no verify token is configured (channels.facebook.verify_token)")
    if params.get("hub.mode") != "subscribe":
        raise SubscriptionError(f"hub.mode must be 'subscribe', got {params.get('hub.mode')!r}")
    given = params.get("hub.verify_token") or ""
    if not hmac.compare_digest(given.encode(), verify_token.encode()):
        raise SubscriptionError("hub.verify_token does not match the configured verify token")
    challenge = params.get("hub.challenge")
    if not challenge:
        raise SubscriptionError("hub.challenge is missing")
    return challenge


def signature_ok(headers: Mapping[str, str], body: bytes, app_secret: str | None) -> bool:
    """Return True if ``X-Hub-Signature-256`` is the HMAC-SHA256 of the raw ``body``."""
    if not app_secret:
        return False
    given = next((v for k, v in headers.items() if k.lower() == "x-hub-signature-256"), None)
    if not given or not given.startswith("sha256="):
        return False
    want = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(given[len("sha256=") :].encode(), want.encode())


def split_payload(payload: Any) -> list[dict[str, Any]]:
    """Split a webhook body into one body per event, so that one bad event is rejected alone.

    Each piece keeps ``object`` and its entry's ``id`` and ``time``.  A payload that is not a
    page webhook is returned whole (parse will say what is wrong with it).
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        return [payload]
    pieces: list[dict[str, Any]] = []
    for entry in payload["entry"]:
        if not isinstance(entry, dict):
            pieces.append({**payload, "entry": [entry]})
            continue
        head = {k: v for k, v in entry.items() if k not in ("changes", "messaging", "standby")}
        events = [
            (key, item)
            for key in ("changes", "messaging", "standby")
            if isinstance(entry.get(key), list)
            for item in entry[key]
        ]
        if not events:
            pieces.append({**payload, "entry": [entry]})
        for key, item in events:
            pieces.append({**payload, "entry": [{**head, key: [item]}]})
    return pieces


def _seconds(value: Any, where: str, *, millis: bool = False) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParseError(
            f"expected a unix time in {'milliseconds' if millis else 'seconds'}", where
        )
    return datetime.fromtimestamp(value / 1000 if millis else value, tz=UTC)


def _str(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise ParseError("missing or not a string", f"{where}.{key}")
    return value


@dataclass(frozen=True)
class FeedMapper:
    """Turn webhook bodies of one page into interactions.

    Each interaction's ``account`` is the page its entry is for (the entry's ``id``).

    :param page_id: the page's id: its own comments and echoes are outbound.
    :param page_name: shown as the page's display name (webhooks do not always carry it).
    :param emails_from_messages: take an e-mail address a customer typed into a Messenger
        message as the author's address, which links the identity to other channels.
    """

    page_id: str
    page_name: str | None = None
    emails_from_messages: bool = True

    def page(self) -> Author:
        return Author(external_id=self.page_id, display_name=self.page_name)

    def parse(self, payload: Any) -> Iterator[InboundInteraction]:
        """Yield the interactions of a webhook body, after checking every event in it.

        :raises ParseError: naming the first bad event (``entry[1].changes[0].value.…``).
        """
        if not isinstance(payload, dict):
            raise ParseError("a webhook body is a JSON object")
        if payload.get("object") != "page":
            raise ParseError(f"expected 'page', got {payload.get('object')!r}", "object")
        entries = payload.get("entry")
        if not isinstance(entries, list):
            raise ParseError("missing or not a list", "entry")
        out: list[InboundInteraction] = []
        for i, entry in enumerate(entries):
            where = f"entry[{i}]"
            if not isinstance(entry, dict):
                raise ParseError("not an object", where)
            page = str(entry.get("id") or self.page_id)
            if not (page.isdigit() and len(page) <= 64):
                raise ParseError("not a page id", f"{where}.id")
            account = page
            for j, change in enumerate(entry.get("changes") or []):
                it = self.change(change, entry, f"{where}.changes[{j}]")
                if it is not None:
                    out.append(it.model_copy(update={"account": account}))
            for key in ("messaging", "standby"):
                for j, event in enumerate(entry.get(key) or []):
                    it = self.messaging(event, f"{where}.{key}[{j}]")
                    if it is not None:
                        out.append(it.model_copy(update={"account": account}))
        yield from out

    # -- page feed -------------------------------------------------------------------------

    def change(
        self, change: Any, entry: Mapping[str, Any], where: str
    ) -> InboundInteraction | None:
        """Map one ``feed`` change; None for items that carry no words (likes, reactions)."""
        if not isinstance(change, dict):
            raise ParseError("not an object", where)
        if change.get("field") != "feed":
            return None
        value = change.get("value")
        where += ".value"
        if not isinstance(value, dict):
            raise ParseError("missing or not an object", where)
        item, verb = value.get("item"), value.get("verb")
        if item == "comment":
            ext = _str(value, "comment_id", where)
        elif item in POST_ITEMS:
            ext = _str(value, "post_id", where)
        else:
            return None
        if verb not in ("add", "edited", "remove"):
            return None  # hide/unhide and the like change no text
        post_id = _str(value, "post_id", where)
        sender = value.get("from")
        if not isinstance(sender, dict):
            raise ParseError("missing: the page token needs the MODERATE task", f"{where}.from")
        author = Author(
            external_id=_str(sender, "id", f"{where}.from"), display_name=sender.get("name")
        )
        created = _seconds(value.get("created_time"), f"{where}.created_time")
        own = author.external_id == self.page_id
        parent = _str(value, "parent_id", where) if value.get("parent_id") else None
        in_reply_to = parent if item == "comment" and parent != post_id else None
        thread = post_id
        if item == "comment":
            thread = comment_thread(ext, in_reply_to, post_id, own=own)
        text = _bounded(value.get("message"), f"{where}.message")
        if verb != "remove" and not isinstance(text, str):
            if item != "comment":
                return None  # a photo without a caption says nothing
            raise ParseError("missing or not a string", f"{where}.message")
        if verb == "edited":
            # Stored as a new interaction that points at the original: the core keeps one
            # text per interaction, so the previous version stays in history untouched.
            digest = hashlib.sha256(str(text).encode()).hexdigest()[:12]
            ext, in_reply_to = f"{ext}#edit-{digest}", ext
            created = _changed_at(entry, created)
        elif verb == "remove":
            ext, in_reply_to, text = f"{ext}#removed", ext, ""
            created = _changed_at(entry, created)
        return InboundInteraction(
            channel="facebook",
            external_id=ext,
            text=str(text),
            created_at=created,
            author=self.page() if own and not author.display_name else author,
            direction=Direction.OUTBOUND if own else Direction.INBOUND,
            public=True,
            thread_key=thread,
            in_reply_to=in_reply_to,
            raw={"field": "feed", "value": value},
        )

    # -- Messenger -------------------------------------------------------------------------

    def messaging(self, event: Any, where: str) -> InboundInteraction | None:
        """Map one Messenger event; None for deliveries, reads, reactions and postbacks."""
        if not isinstance(event, dict):
            raise ParseError("not an object", where)
        message = event.get("message")
        if message is None:
            return None
        if not isinstance(message, dict):
            raise ParseError("not an object", f"{where}.message")
        sender = _obj(event.get("sender"))
        recipient = _obj(event.get("recipient"))
        sender_id = _str(sender, "id", f"{where}.sender")
        recipient_id = _str(recipient, "id", f"{where}.recipient")
        mid = _str(message, "mid", f"{where}.message")
        created = _seconds(event.get("timestamp"), f"{where}.timestamp", millis=True)
        echo = message.get("is_echo") is True or sender_id == self.page_id
        text = _bounded(message.get("text"), f"{where}.message.text")
        if text is not None and not isinstance(text, str):
            raise ParseError("not a string", f"{where}.message.text")
        attachments = tuple(_attachments(message.get("attachments"), f"{where}.message"))
        reply_to = message.get("reply_to")
        in_reply_to = reply_to.get("mid") if isinstance(reply_to, dict) else None
        customer_id = recipient_id if echo else sender_id
        customer = Author(external_id=customer_id)
        if not echo and self.emails_from_messages and text:
            found = set(_EMAIL.findall(text))
            if len(found) == 1:  # two addresses: we cannot tell which is the author's
                customer = Author(external_id=customer_id, email=found.pop())
        return InboundInteraction(
            channel="facebook",
            external_id=mid,
            text=text or "",
            created_at=created,
            author=Author(external_id=sender_id, display_name=self.page_name) if echo else customer,
            recipient=customer if echo else None,
            direction=Direction.OUTBOUND if echo else Direction.INBOUND,
            public=False,
            thread_key=f"messenger:{customer_id}",
            in_reply_to=in_reply_to if isinstance(in_reply_to, str) else None,
            attachments=attachments,
            raw=dict(event),
        )


def _bounded(text: Any, where: str) -> Any:
    """Refuse a text over the allowed length before any pattern reads it."""
    if isinstance(text, str) and len(text) > MAX_TEXT_LENGTH:
        raise ParseError(f"{len(text)} characters, over the {MAX_TEXT_LENGTH} allowed", where)
    return text


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _changed_at(entry: Mapping[str, Any], fallback: datetime) -> datetime:
    """Return when an edit or removal happened: the entry's time (seconds) if it has one."""
    t = entry.get("time")
    if isinstance(t, int | float) and not isinstance(t, bool):
        # Page feed entries carry seconds; guard against a millisecond value all the same.
        return datetime.fromtimestamp(t / 1000 if t > 10**11 else t, tz=UTC)
    return fallback


def _attachments(value: Any, where: str) -> Iterator[Attachment]:
    if value is None:
        return
    if not isinstance(value, list):
        raise ParseError("not a list", f"{where}.attachments")
    for k, att in enumerate(value):
        if not isinstance(att, dict):
            raise ParseError("not an object", f"{where}.attachments[{k}]")
        url = _obj(att.get("payload")).get("url")
        kind = att.get("type")
        yield Attachment(
            name=att.get("title") if isinstance(att.get("title"), str) else None,
            content_type=kind if isinstance(kind, str) else None,
            url=url if isinstance(url, str) else None,
        )
