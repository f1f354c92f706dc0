"""Map X payloads to interactions: v2 tweet pages, v2 DM event pages, Account Activity (v1.1).

Every interaction's ``raw`` is a one-item payload of the same kind as its source (a v2 page
with one tweet and the users it names, or an Account Activity delivery with one event), so
a stored interaction can be parsed again.  :func:`split_payload` cuts a page into such
one-item payloads, which lets a bad item be rejected on its own.  No credential ever appears
in these payloads: they are what X sent.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from scrm.plugin import Author, Direction, Engagement, InboundInteraction, ParseError
from scrm_twitter._fields import (
    _count,
    _engagement,
    _from_validation,
    _id,
    _index_users,
    _iso,
    _language,
    _list,
    _opt_str,
    _str,
    _v2_author,
    _v11_author,
    _v11_time,
)

__all__ = ["FOR_ACCOUNT", "Mapper", "dm_conversation_id", "payload_account", "split_payload"]

CHANNEL = "twitter"
AAA_TWEETS = "tweet_create_events"
AAA_DMS = "direct_message_events"
#: The key a polled v2 page gets for the brand user id whose account read it (the poller
#: adds it; an Account Activity delivery names its account in ``for_user_id``).
FOR_ACCOUNT = "for_account"

Item = InboundInteraction | ParseError


def dm_conversation_id(a: str, b: str) -> str:
    """Return X's id of the one-to-one conversation between users ``a`` and ``b``."""
    lo, hi = sorted((a, b), key=lambda v: (len(v), v))
    return f"{lo}-{hi}"


def payload_account(payload: Any) -> str | None:
    """Return the brand user id a payload names as its account, if any."""
    if not isinstance(payload, dict):
        return None
    value = payload.get("for_user_id", payload.get(FOR_ACCOUNT))
    return str(value) if isinstance(value, str | int) and str(value).isdigit() else None


def _is_aaa(payload: Mapping[str, Any]) -> bool:
    return "for_user_id" in payload or AAA_TWEETS in payload or AAA_DMS in payload


def _data_items(payload: Mapping[str, Any]) -> list[Any]:
    data = payload.get("data")
    if data is None:
        return []
    return data if isinstance(data, list) else [data]


def _users_of(item: Any) -> set[str]:
    if not isinstance(item, dict):
        return set()
    ids = {item.get(k) for k in ("author_id", "in_reply_to_user_id", "sender_id")}
    ids.update(item.get("participant_ids") or [])
    conv = item.get("dm_conversation_id")
    if isinstance(conv, str) and "-" in conv:
        ids.update(conv.split("-"))
    return {i for i in ids if isinstance(i, str)}


def split_payload(payload: Any) -> Iterator[Any]:
    """Yield one self-contained payload per tweet or DM event in ``payload``.

    A payload of an unknown shape is yielded unchanged, so that parsing it reports why.
    """
    if not isinstance(payload, dict):
        yield payload
        return
    if _is_aaa(payload):
        head = {"for_user_id": payload.get("for_user_id")}
        for ev in payload.get(AAA_TWEETS) or []:
            yield {**head, AAA_TWEETS: [ev]}
        v11_users = payload.get("users") if isinstance(payload.get("users"), dict) else {}
        for ev in payload.get(AAA_DMS) or []:
            mc = ev.get("message_create", {}) if isinstance(ev, dict) else {}
            wanted = {mc.get("sender_id"), (mc.get("target") or {}).get("recipient_id")}
            part = {k: v for k, v in (v11_users or {}).items() if k in wanted}
            yield {**head, AAA_DMS: [ev], "users": part}
        return
    if not ({"data", "meta", "includes", "errors"} & payload.keys()):
        yield payload
        return
    users = (payload.get("includes") or {}).get("users") or []
    tag = {FOR_ACCOUNT: payload[FOR_ACCOUNT]} if FOR_ACCOUNT in payload else {}
    for item in _data_items(payload):
        named = _users_of(item)
        expanded = [u for u in users if isinstance(u, dict) and u.get("id") in named]
        yield {"data": [item], "includes": {"users": expanded}, **tag}


class Mapper:
    """Turn payloads into interactions from the point of view of the brand's account.

    Every interaction's ``account`` is the brand's user id it arrived on or was sent from:
    the subscribed user of an Account Activity delivery; else the brand user who wrote it,
    whom it answers, who is mentioned in it, or who is in the DM; else (a search result) the
    first of ``brand_user_ids``.

    :param brand_user_ids: the brand's X user ids, the primary one first; their tweets and
        DMs become outbound.
    """

    def __init__(self, brand_user_ids: Collection[str]) -> None:
        self.brands = frozenset(brand_user_ids)
        self.primary = next(iter(brand_user_ids), None)

    def _account(self, *candidates: Any) -> str | None:
        """The first candidate that is one of the brand's users, else the primary one."""
        return next((c for c in candidates if c in self.brands), self.primary)

    def parse(self, payload: Any) -> Iterator[InboundInteraction]:
        """Yield the interactions of ``payload``.

        :raises ParseError: naming the first bad item's field (``data[2].created_at``); the
            good items of the page are then not yielded, so that the line is kept whole.
        """
        items = list(self.items(payload))
        bad = [i for i in items if isinstance(i, ParseError)]
        if bad:
            first = bad[0]
            more = f" ({len(bad) - 1} more bad items on this line)" if len(bad) > 1 else ""
            raise ParseError(first.reason + more, first.field)
        for it in items:
            assert isinstance(it, InboundInteraction)
            yield it

    def items(self, payload: Any) -> Iterator[Item]:
        """Yield an interaction or a :class:`ParseError` for every item of ``payload``."""
        if not isinstance(payload, dict):
            raise ParseError(f"expected a JSON object, got {type(payload).__name__}")
        if _is_aaa(payload):
            yield from self._aaa(payload)
            return
        if not ({"data", "meta", "includes", "errors"} & payload.keys()):
            raise ParseError(
                "not an X API v2 page (no data, includes or meta) nor an Account Activity "
                "delivery (no for_user_id)"
            )
        users = _index_users(payload)
        tag = {FOR_ACCOUNT: payload[FOR_ACCOUNT]} if FOR_ACCOUNT in payload else {}
        for n, item in enumerate(_data_items(payload)):
            path = f"data[{n}]"
            try:
                if not isinstance(item, dict):
                    raise ParseError("expected an object", path)
                if "event_type" in item or "dm_conversation_id" in item:
                    if item.get("event_type", "MessageCreate") == "MessageCreate":
                        yield self._dm(item, path, users, tag)
                else:
                    yield self._tweet(item, path, users, tag)
            except ParseError as exc:
                yield exc
            except ValidationError as exc:
                yield _from_validation(exc, path)

    # -- v2 --------------------------------------------------------------------------------

    def _tweet(
        self,
        tw: dict[str, Any],
        path: str,
        users: dict[str, tuple[str, dict[str, Any]]],
        tag: dict[str, Any],
    ) -> InboundInteraction:
        tid = _id(tw, "id", path)
        author_id = _id(tw, "author_id", path)
        replied = [
            r.get("id")
            for r in _list(tw, "referenced_tweets", path)
            if isinstance(r, dict) and r.get("type") == "replied_to"
        ]
        to_user = _opt_str(tw, "in_reply_to_user_id", path)
        outbound = author_id in self.brands
        recipient = None
        if outbound and to_user and to_user not in self.brands:
            recipient = _v2_author(to_user, users)
        raw_users = [users[u][1] for u in (author_id, to_user) if u and u in users]
        mentioned = [
            m.get("id")
            for m in ((tw.get("entities") or {}).get("mentions") or [])
            if isinstance(m, dict)
        ]
        return InboundInteraction(
            account=self._account(author_id, to_user, *mentioned),
            channel=CHANNEL,
            external_id=tid,
            text=_str(tw, "text", path),
            created_at=_iso(tw, "created_at", path),
            author=_v2_author(author_id, users),
            direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
            public=True,
            thread_key=_opt_str(tw, "conversation_id", path) or tid,
            in_reply_to=replied[0] if replied else None,
            language=_language(tw.get("lang")),
            recipient=recipient,
            engagement=_engagement(tw.get("public_metrics"), path),
            raw={"data": [tw], "includes": {"users": raw_users}, **tag},
        )

    def _dm(
        self,
        ev: dict[str, Any],
        path: str,
        users: dict[str, tuple[str, dict[str, Any]]],
        tag: dict[str, Any],
    ) -> InboundInteraction:
        eid = _id(ev, "id", path)
        sender = _id(ev, "sender_id", path)
        conv = _str(ev, "dm_conversation_id", path)
        others = [p for p in _list(ev, "participant_ids", path) if p != sender]
        if not others and "-" in conv:
            others = [p for p in conv.split("-") if p != sender]
        outbound = sender in self.brands
        recipient = _v2_author(others[0], users) if outbound and others else None
        raw_users = [users[u][1] for u in (sender, *others) if u in users]
        return InboundInteraction(
            account=self._account(sender, *others),
            channel=CHANNEL,
            external_id=eid,
            text=_str(ev, "text", path),
            created_at=_iso(ev, "created_at", path),
            author=_v2_author(sender, users),
            direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
            public=False,
            thread_key=f"dm:{conv}",
            recipient=recipient,
            raw={"data": [ev], "includes": {"users": raw_users}, **tag},
        )

    # -- Account Activity (v1.1 objects) ---------------------------------------------------

    def _aaa(self, payload: dict[str, Any]) -> Iterator[Item]:
        for_user = payload.get("for_user_id")
        brands = self.brands | ({str(for_user)} if for_user is not None else set())
        for n, ev in enumerate(payload.get(AAA_TWEETS) or []):
            path = f"{AAA_TWEETS}[{n}]"
            try:
                yield self._v11_tweet(ev, path, brands, for_user)
            except ParseError as exc:
                yield exc
            except ValidationError as exc:
                yield _from_validation(exc, path)
        users = payload.get("users") or {}
        for n, ev in enumerate(payload.get(AAA_DMS) or []):
            path = f"{AAA_DMS}[{n}]"
            try:
                if not isinstance(ev, dict):
                    raise ParseError("expected an object", path)
                if ev.get("type", "message_create") == "message_create":
                    yield self._v11_dm(ev, path, brands, users, for_user)
            except ParseError as exc:
                yield exc
            except ValidationError as exc:
                yield _from_validation(exc, path)

    def _v11_tweet(
        self, tw: Any, path: str, brands: frozenset[str], for_user: Any
    ) -> InboundInteraction:
        if not isinstance(tw, dict):
            raise ParseError("expected an object", path)
        tid = _id(tw, "id_str", path)
        user = tw.get("user")
        if not isinstance(user, dict):
            raise ParseError("missing or not an object", f"{path}.user")
        author = _v11_author(user, f"{path}.user")
        text = tw.get("extended_tweet", {}).get("full_text") if tw.get("truncated") else None
        to_user = _opt_str(tw, "in_reply_to_user_id_str", path)
        outbound = author.external_id in brands
        recipient = None
        if outbound and to_user and to_user not in brands:
            recipient = Author(external_id=to_user, handle=tw.get("in_reply_to_screen_name"))
        parent = _opt_str(tw, "in_reply_to_status_id_str", path)
        return InboundInteraction(
            account=str(for_user) if for_user is not None else self._account(author.external_id),
            channel=CHANNEL,
            external_id=tid,
            text=text or _str(tw, "text", path),
            created_at=_v11_time(tw.get("created_at"), f"{path}.created_at"),
            author=author,
            direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
            public=True,
            # v1.1 objects carry no conversation id: a reply joins its case through in_reply_to.
            thread_key=None if parent else tid,
            in_reply_to=parent,
            language=_language(tw.get("lang")),
            recipient=recipient,
            engagement=Engagement(
                likes=_count(tw, "favorite_count", path),
                shares=_count(tw, "retweet_count", path),
                replies=_count(tw, "reply_count", path),
                quotes=_count(tw, "quote_count", path),
            ),
            raw={"for_user_id": for_user, AAA_TWEETS: [tw]},
        )

    def _v11_dm(
        self, ev: dict[str, Any], path: str, brands: frozenset[str], users: Any, for_user: Any
    ) -> InboundInteraction:
        mc = ev.get("message_create")
        if not isinstance(mc, dict):
            raise ParseError("missing or not an object", f"{path}.message_create")
        mpath = f"{path}.message_create"
        sender = _id(mc, "sender_id", mpath)
        target: dict[str, Any] = mc["target"] if isinstance(mc.get("target"), dict) else {}
        recipient_id = _id(target, "recipient_id", f"{mpath}.target")
        data: dict[str, Any] = (
            mc["message_data"] if isinstance(mc.get("message_data"), dict) else {}
        )
        try:
            created = datetime.fromtimestamp(int(ev.get("created_timestamp", "")) / 1000, UTC)
        except (TypeError, ValueError):
            raise ParseError("expected epoch milliseconds", f"{path}.created_timestamp") from None
        users = users if isinstance(users, dict) else {}

        def person(uid: str) -> Author:
            u = users.get(uid)
            return (
                _v11_author(u, f"users.{uid}") if isinstance(u, dict) else Author(external_id=uid)
            )

        outbound = sender in brands
        return InboundInteraction(
            account=str(for_user) if for_user is not None else self._account(sender, recipient_id),
            channel=CHANNEL,
            external_id=_id(ev, "id", path),
            text=_str(data, "text", f"{mpath}.message_data"),
            created_at=created,
            author=person(sender),
            direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
            public=False,
            thread_key=f"dm:{dm_conversation_id(sender, recipient_id)}",
            recipient=person(recipient_id) if outbound else None,
            raw={
                "for_user_id": for_user,
                AAA_DMS: [ev],
                "users": {k: v for k, v in users.items() if k in (sender, recipient_id)},
            },
        )
