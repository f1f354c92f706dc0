"""Outgoing webhooks: subscribers, signed events, delivery with retries like the outbox.

An event (``case.opened``...) becomes one :class:`~scrm.core.models.WebhookDelivery` row per
matching subscription, written after the change it reports has committed; delivery then
claims rows with a lease, POSTs them and settles them (``sent``; ``pending`` again with a
backoff; ``failed`` after :data:`~scrm.core.outbox.MAX_ATTEMPTS` or on a 4xx answer), so the
request that caused an event never waits for a subscriber.  Delivery is at least once:
receivers deduplicate on ``X-Scrm-Delivery``.

Each request carries ``X-Scrm-Timestamp`` (unix seconds) and ``X-Scrm-Signature:
sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``.  The per-subscription secret is
*derived* from the server key (``server.secret_key``) and the subscription id, so no secret
is stored in the database; ``scrm webhooks add`` shows it once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session, sessionmaker

from scrm.core import audit
from scrm.core.config import ServerConfig
from scrm.core.db import chunks, utcnow
from scrm.core.errors import N_, InvalidInput
from scrm.core.models import Case, WebhookDelivery, WebhookSubscription
from scrm.core.outbox import MAX_ATTEMPTS, backoff
from scrm.core.queries import NotFound

if TYPE_CHECKING:
    import httpx

__all__ = [
    "EVENT_TYPES",
    "TEST_EVENT",
    "DeliveryOut",
    "SubscriptionOut",
    "WebhookError",
    "WebhookReport",
    "add_subscription",
    "deliver",
    "derive_secret",
    "enqueue_event",
    "enqueue_events",
    "list_deliveries",
    "list_subscriptions",
    "remove_subscription",
    "sign",
    "verify_signature",
]

EVENT_TYPES = (
    "interaction.stored",
    "case.opened",
    "case.transitioned",
    "sla.warning",
    "sla.breached",
    "case.escalated",
    "reply.delivered",
    "csat.received",
)
TEST_EVENT = "webhook.test"
LEASE = timedelta(minutes=2)
#: Bumped whenever this process adds or removes a subscription (see scrm.plugins.webhooks).
generation = [0]
_RETRY_STATUSES = frozenset({408, 425, 429})


class WebhookError(InvalidInput):
    """A subscription that cannot be made or used; the message says why."""


class SubscriptionOut(BaseModel):
    """A subscription with its delivery counts (no secret)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    event_types: list[str]
    description: str | None
    active: bool
    created_by: str
    created_at: datetime
    pending: int = 0
    sent: int = 0
    failed: int = 0
    last_error: str | None = None


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    subscription_id: int
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    response_status: int | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass
class WebhookReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


# -- signing ------------------------------------------------------------------------------


def derive_secret(server_key: str, subscription_id: int) -> str:
    """Return the signing secret of a subscription: HMAC of its id under the server key."""
    msg = f"scrm-webhook-subscription:{subscription_id}".encode()
    return hmac.new(server_key.encode(), msg, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return ``sha256=<hex HMAC-SHA256(secret, f"{timestamp}." + body)>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_signature(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: float = 300,
    now: float | None = None,
) -> bool:
    """Check a delivery as a receiver should: signature, and a timestamp within ``tolerance``."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        ts = int(lower.get("x-scrm-timestamp", ""))
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance:
        return False
    given = lower.get("x-scrm-signature", "")
    return hmac.compare_digest(given.encode(), sign(secret, ts, body).encode())


def _server_key(config: ServerConfig) -> str:
    key = config.secret_key.get_secret_value() if config.secret_key else ""
    if not key:
        raise WebhookError(
            N_("no server key: set server.secret_key (SCRM_SERVER__SECRET_KEY) to sign webhooks")
        )
    return key


# -- subscriptions ------------------------------------------------------------------------


def add_subscription(
    session: Session,
    *,
    url: str,
    event_types: list[str] | tuple[str, ...],
    actor: str,
    config: ServerConfig,
    description: str | None = None,
) -> tuple[SubscriptionOut, str]:
    """Subscribe ``url`` to ``event_types`` (none: all); return it and its signing secret.

    :raises WebhookError: for a URL that is not http(s), an unknown event type, or no server key.
    """
    key = _server_key(config)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise WebhookError(N_("a webhook URL is http:// or https://, not %(url)r"), url=url)
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise WebhookError(
            N_("unknown event type %(types)s; known: %(known)s"),
            types=", ".join(unknown),
            known=", ".join(EVENT_TYPES),
        )
    sub = WebhookSubscription(
        url=url,
        event_types=sorted(set(event_types)),
        description=description,
        active=True,
        created_by=actor,
    )
    session.add(sub)
    session.flush()
    generation[0] += 1
    audit.record(
        session,
        actor=actor,
        action="webhook.add",
        target_type="webhook_subscription",
        target_id=sub.id,
        details={"host": parts.hostname, "event_types": sub.event_types},
    )
    return SubscriptionOut.model_validate(sub), derive_secret(key, sub.id)


def remove_subscription(session: Session, subscription_id: int, *, actor: str) -> None:
    """Deactivate a subscription and cancel its pending deliveries (history is kept)."""
    sub = session.get(WebhookSubscription, subscription_id)
    if sub is None:
        raise NotFound(N_("no webhook subscription %(id)s"), id=subscription_id)
    sub.active = False
    generation[0] += 1
    session.execute(
        sa.update(WebhookDelivery)
        .where(
            WebhookDelivery.subscription_id == subscription_id,
            WebhookDelivery.status.in_(("pending", "sending")),
        )
        .values(status="cancelled", lease_until=None)
    )
    audit.record(
        session,
        actor=actor,
        action="webhook.remove",
        target_type="webhook_subscription",
        target_id=subscription_id,
    )


def list_subscriptions(
    session: Session, *, include_inactive: bool = False
) -> list[SubscriptionOut]:
    """Subscriptions with their pending/sent/failed counts and the latest error."""
    q = sa.select(WebhookSubscription).order_by(WebhookSubscription.id)
    if not include_inactive:
        q = q.where(WebhookSubscription.active.is_(True))
    subs = list(session.scalars(q))
    counts: dict[tuple[int, str], int] = {
        (sid, st): n
        for sid, st, n in session.execute(
            sa.select(
                WebhookDelivery.subscription_id, WebhookDelivery.status, sa.func.count()
            ).group_by(WebhookDelivery.subscription_id, WebhookDelivery.status)
        )
    }
    out = []
    for sub in subs:
        last_error = session.scalar(
            sa.select(WebhookDelivery.last_error)
            .where(
                WebhookDelivery.subscription_id == sub.id, WebhookDelivery.last_error.is_not(None)
            )
            .order_by(WebhookDelivery.id.desc())
            .limit(1)
        )
        out.append(
            SubscriptionOut.model_validate(sub).model_copy(
                update={
                    "pending": counts.get((sub.id, "pending"), 0)
                    + counts.get((sub.id, "sending"), 0),
                    "sent": counts.get((sub.id, "sent"), 0),
                    "failed": counts.get((sub.id, "failed"), 0),
                    "last_error": last_error,
                }
            )
        )
    return out


def list_deliveries(
    session: Session,
    *,
    subscription_id: int | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[DeliveryOut]:
    q = sa.select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
    if subscription_id is not None:
        q = q.where(WebhookDelivery.subscription_id == subscription_id)
    if status:
        q = q.where(WebhookDelivery.status == status)
    return [DeliveryOut.model_validate(d) for d in session.scalars(q)]


# -- events -------------------------------------------------------------------------------


def _delivery(
    sub_id: int, event_type: str, event_id: str, data: Any, now: datetime
) -> dict[str, Any]:
    """The columns of a new delivery of event ``event_id`` to subscription ``sub_id``."""
    return {
        "subscription_id": sub_id,
        "event_type": event_type,
        "idempotency_key": f"{event_id}:{sub_id}",
        "payload": {
            "id": event_id,
            "type": event_type,
            "created_at": now.isoformat(),
            "data": data,
        },
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
    }


def _subscribers(
    session: Session, ids: list[int] | None = None
) -> list[tuple[int, list[str], int | None]]:
    """The active subscriptions (restricted to ``ids``), with the event types they want and
    their brand (None: the agency's, every brand's events)."""
    q = sa.select(
        WebhookSubscription.id, WebhookSubscription.event_types, WebhookSubscription.brand_id
    ).where(WebhookSubscription.active.is_(True))
    if ids is not None:
        q = q.where(WebhookSubscription.id.in_(ids))
    return [(sub_id, list(types or ()), brand) for sub_id, types, brand in session.execute(q)]


def _case_id(data: dict[str, Any]) -> int | None:
    case = data.get("case")
    found = case.get("id") if isinstance(case, dict) else data.get("case_id")
    return found if isinstance(found, int) else None


def _brands(session: Session, items: list[dict[str, Any]]) -> list[int | None]:
    """The brand of each event's case; None for an event about no case (agency only)."""
    wanted = {c for c in map(_case_id, items) if c is not None}
    brands: dict[int, int] = {}
    for part in chunks(sorted(wanted)):
        q = sa.select(Case.id, Case.brand_id).where(Case.id.in_(part))
        brands.update({case_id: brand for case_id, brand in session.execute(q)})
    return [brands.get(c) if c is not None else None for c in map(_case_id, items)]


def _reaches(sub_brand: int | None, event_brand: int | None) -> bool:
    """A brand's subscription gets its brand's events only; the agency's, every event."""
    return sub_brand is None or sub_brand == event_brand


def enqueue_event(
    session: Session,
    event_type: str,
    data: dict[str, Any],
    *,
    now: datetime | None = None,
    subscription_ids: list[int] | None = None,
) -> list[int]:
    """Queue ``event_type`` for every active subscription that wants it; return delivery ids.

    ``subscription_ids`` restricts it to those subscriptions (``scrm webhooks test``).
    """
    now = now or utcnow()
    event_id = uuid.uuid4().hex
    ids = []
    [brand] = _brands(session, [data])
    for sub_id, types, sub_brand in _subscribers(session, subscription_ids):
        if types and event_type not in types and event_type != TEST_EVENT:
            continue
        if event_type != TEST_EVENT and not _reaches(sub_brand, brand):
            continue
        row = WebhookDelivery(**_delivery(sub_id, event_type, event_id, data, now))
        session.add(row)
        session.flush()
        ids.append(row.id)
    return ids


def enqueue_events(
    session: Session, events: Iterable[tuple[str, Any]], *, now: datetime | None = None
) -> int:
    """Queue many events ``(type, data)`` for the subscriptions that want them: one
    multi-row ``INSERT``, the subscriptions read once.  Return how many deliveries."""
    now = now or utcnow()
    subs = _subscribers(session)
    events = list(events)
    brands = _brands(session, [data for _, data in events])
    rows: list[dict[str, Any]] = []
    for (event_type, data), brand in zip(events, brands, strict=True):
        event_id = uuid.uuid4().hex
        rows.extend(
            _delivery(sub_id, event_type, event_id, data, now)
            for sub_id, types, sub_brand in subs
            if (not types or event_type in types) and _reaches(sub_brand, brand)
        )
    if rows:
        session.execute(sa.insert(WebhookDelivery), rows)
    return len(rows)


# -- delivery -----------------------------------------------------------------------------


def _claim(
    session: Session, now: datetime, limit: int, only: list[int] | None
) -> list[tuple[int, str, str, dict[str, Any], str, int]]:
    # Interrupted deliveries go out again: webhooks are at least once, receivers dedupe.
    session.execute(
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.status == "sending", WebhookDelivery.lease_until < now)
        .values(status="pending", lease_until=None)
    )
    q = (
        sa.select(WebhookDelivery, WebhookSubscription.url)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    if only is not None:
        q = q.where(WebhookDelivery.id.in_(only))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True, of=WebhookDelivery)
    claimed = []
    for row, url in session.execute(q):
        row.status, row.attempts, row.lease_until = "sending", row.attempts + 1, now + LEASE
        claimed.append(
            (row.id, url, row.event_type, row.payload, row.idempotency_key, row.subscription_id)
        )
    return claimed


def _settle(
    session: Session, row_id: int, now: datetime, status: int | None, error: str | None
) -> str:
    row = session.get(WebhookDelivery, row_id)
    assert row is not None
    row.response_status, row.lease_until = status, None
    if error is None:
        row.status, row.delivered_at, row.last_error = "sent", now, None
    elif status is not None and 400 <= status < 500 and status not in _RETRY_STATUSES:
        row.status, row.last_error = "failed", error
    elif row.attempts >= MAX_ATTEMPTS:
        row.status, row.last_error = "failed", f"gave up after {row.attempts} attempts: {error}"
    else:
        row.status, row.last_error = "pending", error
        row.next_attempt_at = now + backoff(row.attempts)
    return row.status


def deliver(
    session_factory: sessionmaker[Session],
    config: ServerConfig,
    *,
    now: datetime | None = None,
    limit: int = 100,
    only: list[int] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> WebhookReport:
    """POST due deliveries (or just those in ``only``) and settle each one."""
    import httpx  # here, not at the top: importing httpx also imports click and rich
    now = now or utcnow()
    report = WebhookReport()
    with session_factory() as s, s.begin():
        claimed = _claim(s, now, limit, only)
    if not claimed:
        return report
    key = config.secret_key.get_secret_value() if config.secret_key else ""
    with httpx.Client(timeout=config.webhook_timeout, transport=transport) as client:
        for row_id, url, event_type, payload, delivery_key, sub_id in claimed:
            status: int | None = None
            error: str | None = None
            if not key:
                error = "no server key (server.secret_key) to sign with"
            else:
                body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
                ts = int(time.time())
                headers = {
                    "Content-Type": "application/json",
                    "User-Agent": "scrm-webhooks",
                    "X-Scrm-Event": event_type,
                    "X-Scrm-Delivery": delivery_key,
                    "X-Scrm-Timestamp": str(ts),
                    "X-Scrm-Signature": sign(derive_secret(key, sub_id), ts, body),
                }
                try:
                    response = client.post(url, content=body, headers=headers)
                    status = response.status_code
                    if not 200 <= status < 300:
                        error = f"the subscriber answered HTTP {status}"
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
            with session_factory() as s, s.begin():
                outcome = _settle(s, row_id, now, status, error)
            if outcome == "sent":
                report.sent += 1
            elif outcome == "failed":
                report.failed += 1
                report.errors.append(f"delivery {row_id}: {error}")
            else:
                report.retried += 1
                report.errors.append(f"delivery {row_id}: {error}")
    return report
