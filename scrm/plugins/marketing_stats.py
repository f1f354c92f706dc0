"""Marketing figures: the spike rule, campaign reports, share of voice, brand advocates.

The spike rule (also in ``docs/departments.md``): for a scope (a brand's messages, or one
campaign's: a brand's own campaign counts that brand's, a deployment's every brand's) and a
metric (``mentions``: inbound messages that are not spam; ``negative``: those with a
negative sentiment), let ``c`` be the count in hour ``H`` and ``λ`` the mean hourly count over
the ``window_hours`` hours before ``H`` (at least ``min_baseline``).  Hour ``H`` is anomalous
when ``c >= min_count`` and the Poisson upper tail ``P(X >= c | λ) <= alpha``.  Consecutive
anomalous hours form one spike, alerted once at its first hour.  No hour is judged before the
scope has ``window_hours`` of history (no alert on the first day of data or of a campaign).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from scrm.plugin import normalize
from scrm.plugins.department import merge_spans

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

__all__ = [
    "Scope",
    "Spike",
    "SpikeRule",
    "advocates",
    "campaign_report",
    "judge_hours",
    "poisson_tail",
]

HOUR = timedelta(hours=1)


def poisson_tail(count: int, lam: float) -> float:
    """Return ``P(X >= count)`` for ``X ~ Poisson(lam)``."""
    if count <= 0:
        return 1.0
    term = math.exp(-lam)
    below = term
    for k in range(1, count):
        term *= lam / k
        below += term
    return max(0.0, 1.0 - below)


Scope = tuple[int | None, str]
"""A scope of the spike rule: ``(brand id, name)``.  The name is ``brand`` (the brand's
mentions) or ``campaign:<name>``; the brand id is the brand whose messages count, or None for
every brand's (a campaign of the deployment)."""


@dataclass(frozen=True)
class Spike:
    scope: str
    metric: str
    hour: datetime
    count: int
    baseline: float
    p_value: float
    brand: int | None = None
    """The brand whose messages were counted; None: every brand's."""


class SpikeRule(Protocol):
    """The settings of the rule (``[plugins.marketing.spikes]``, a brand's own)."""

    window_hours: int
    alpha: float
    min_count: int
    min_baseline: float


def _scope_query(scope: Scope, metric: str) -> sa.Select[Any]:
    import sqlalchemy as sa

    from scrm.plugin.db import Interaction
    from scrm.plugins.tables.marketing import CampaignLink

    brand, name = scope
    q = sa.select(Interaction.created_at).where(
        Interaction.direction == "inbound",
        sa.or_(Interaction.kind.is_(None), Interaction.kind != "spam"),
    )
    if brand is not None:
        q = q.where(Interaction.brand_id == brand)
    if name.startswith("campaign:"):
        q = q.join(CampaignLink, CampaignLink.interaction_id == Interaction.id).where(
            CampaignLink.campaign == name.removeprefix("campaign:")
        )
    if metric == "negative":
        q = q.where(Interaction.sentiment == "negative")
    return q


def _history_start(
    session: Session,
    scope: Scope,
    metric: str,
    history_start: dict[tuple[Scope, str], datetime] | None,
    needed: datetime,
) -> datetime | None:
    """The time of the scope's first message for the metric, if it is at or before ``needed``.

    Remembered per application once it is early enough: the start never moves later, so it
    stays early enough for every later hour.  A start that is not is read again each time,
    since a backfill (an archive imported after live messages, by this process or another)
    moves it earlier.
    """
    import sqlalchemy as sa

    key = (scope, metric)
    first = history_start.get(key) if history_start is not None else None
    if first is not None and first <= needed:
        return first
    q = _scope_query(scope, metric)
    found = session.scalar(sa.select(sa.func.min(q.subquery().c.created_at)))
    if found is None or _aware(found) > needed:
        return None
    if history_start is not None:
        history_start[key] = _aware(found)
    return _aware(found)


def _record(
    session: Session, scope: Scope, metric: str, hour: datetime, count: int, lam: float, p: float
) -> Spike | None:
    """Record an anomalous hour: extend the spike it continues, or start one and return it."""
    import sqlalchemy as sa

    from scrm.plugins.tables.marketing import SpikeEpisode

    brand, name = scope
    episode = session.scalars(
        sa.select(SpikeEpisode)
        .where(
            SpikeEpisode.brand_id.is_(None) if brand is None else SpikeEpisode.brand_id == brand,
            SpikeEpisode.scope == name,
            SpikeEpisode.metric == metric,
            SpikeEpisode.started_at <= hour,
            SpikeEpisode.last_hour >= hour - HOUR,
        )
        .order_by(SpikeEpisode.started_at.desc())
    ).first()
    if episode is not None:
        episode.last_hour = max(_aware(episode.last_hour), hour)
        episode.peak_count = max(episode.peak_count, count)
        return None
    with session.begin_nested():
        session.add(
            SpikeEpisode(
                brand_id=brand,
                scope=name,
                metric=metric,
                started_at=hour,
                last_hour=hour,
                peak_count=count,
                baseline=round(lam, 3),
                p_value=p,
            )
        )
        try:
            session.flush()
        except sa.exc.IntegrityError:  # another worker recorded it first
            return None
    return Spike(name, metric, hour, count, round(lam, 3), p, brand)


def _hour_counts(
    session: Session, scopes: set[Scope], spans: list[tuple[datetime, datetime]]
) -> dict[tuple[Scope, str, int], int]:
    """Messages per ``(scope, metric, hour)`` within ``spans``, for every metric, in one
    grouped query per kind of scope (the brands; the campaigns), IN-lists in chunks.

    Both queries group by brand as well: a brand's scope takes its own group, a scope of
    every brand (a deployment's campaign) the sum of the groups.  An hour is its number since
    the epoch (``epoch // 3600``), the same on both databases.
    """
    import sqlalchemy as sa

    from scrm.plugin.db import Interaction, chunks, epoch
    from scrm.plugins.tables.marketing import CampaignLink

    out: dict[tuple[Scope, str, int], int] = defaultdict(int)
    hour_no = (epoch(session, Interaction.created_at) // 3600).label("hour")
    negative = sa.func.sum(sa.case((Interaction.sentiment == "negative", 1), else_=0))
    names = {name for _, name in scopes}
    campaigns = sorted(n.removeprefix("campaign:") for n in names if n.startswith("campaign:"))
    for part in chunks(spans, 100):
        within = sa.or_(
            *(sa.and_(Interaction.created_at >= lo, Interaction.created_at < hi) for lo, hi in part)
        )
        base = _scope_query((None, "brand"), "mentions").with_only_columns(
            hour_no, sa.func.count(), negative, Interaction.brand_id
        )
        queries = []
        if "brand" in names:
            queries.append(base.where(within).group_by(Interaction.brand_id, hour_no))
        for chunk in chunks(campaigns):
            queries.append(
                base.add_columns(CampaignLink.campaign)
                .join(CampaignLink, CampaignLink.interaction_id == Interaction.id)
                .where(within, CampaignLink.campaign.in_(chunk))
                .group_by(Interaction.brand_id, CampaignLink.campaign, hour_no)
            )
        for q in queries:
            for row in session.execute(q):
                name = f"campaign:{row[4]}" if len(row) > 4 else "brand"
                h, brand = int(row[0]), row[3]
                for scope in ((brand, name), (None, name)):
                    if scope in scopes:
                        out[(scope, "mentions", h)] += int(row[1])
                        out[(scope, "negative", h)] += int(row[2] or 0)
    return out


def judge_hours(
    session: Session,
    checks: list[tuple[Scope, str, datetime]],
    rules: Mapping[int | None, SpikeRule],
    *,
    history_start: dict[tuple[Scope, str], datetime] | None = None,
) -> list[Spike]:
    """Judge each ``(scope, metric, hour)`` in order (the rule in the module docstring), each
    with the rule of its scope's brand (``rules[brand id]``; None: the deployment's); record
    the anomalous hours; return the spikes that start.

    Set-based: the counts of every hour the checks need, every brand's, come from one grouped
    query per kind of scope over the union of their windows, instead of one query per check
    or per brand.
    """
    judged: list[tuple[Scope, str, datetime, SpikeRule]] = []
    for scope, metric, hour in checks:
        rule = rules[scope[0]]
        window = rule.window_hours * HOUR
        if _history_start(session, scope, metric, history_start, hour - window) is None:
            continue  # not enough history to know what is normal
        judged.append((scope, metric, hour, rule))
    if not judged:
        return []
    spans = merge_spans([(h - r.window_hours * HOUR, h + HOUR) for _, _, h, r in judged])
    counts = _hour_counts(session, {scope for scope, _, _, _ in judged}, spans)
    out = []
    for scope, metric, hour, rule in judged:
        n = int(hour.timestamp()) // 3600
        count = counts.get((scope, metric, n), 0)
        before = sum(counts.get((scope, metric, n - k), 0) for k in range(1, rule.window_hours + 1))
        lam = max(rule.min_baseline, before / rule.window_hours)
        p = poisson_tail(count, lam)
        if count < rule.min_count or p > rule.alpha:
            continue
        spike = _record(session, scope, metric, hour, count, lam, p)
        if spike is not None:
            out.append(spike)
    return out


def _aware(t: datetime) -> datetime:
    from datetime import UTC

    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _bucket(t: datetime, by: str, zone: ZoneInfo) -> str:
    local = _aware(t).astimezone(zone)
    return local.strftime("%Y-%m-%d %H:00") if by == "hour" else local.strftime("%Y-%m-%d")


def _rank(a: dict[str, Any]) -> tuple[float, int]:
    return (-float(a["score"]), int(a["customer_id"]))


def _followers(session: Session, customer_ids: set[int]) -> dict[int, int]:
    import sqlalchemy as sa

    from scrm.plugin.db import Identity

    out: dict[int, int] = defaultdict(int)
    if customer_ids:
        for cid, n in session.execute(
            sa.select(Identity.customer_id, sa.func.max(Identity.followers))
            .where(Identity.customer_id.in_(sorted(customer_ids)))
            .group_by(Identity.customer_id)
        ):
            out[cid] = n or 0
    return out


def _names(session: Session, customer_ids: set[int]) -> dict[int, str]:
    import sqlalchemy as sa

    from scrm.plugin.db import Customer

    if not customer_ids:
        return {}
    return {
        cid: name or f"customer {cid}"
        for cid, name in session.execute(
            sa.select(Customer.id, Customer.display_name).where(
                Customer.id.in_(sorted(customer_ids))
            )
        )
    }


def campaign_report(
    session: Session,
    name: str,
    *,
    by: str,
    zone: ZoneInfo,
    window: tuple[datetime | None, datetime | None],
    competitors: dict[str, list[str]],
    top: int = 5,
    brand: int | None = None,
) -> dict[str, Any]:
    """Volume and sentiment per bucket, top complaints, advocates and share of voice.

    :param brand: count only this brand's messages (a brand's own campaign); None: every
        brand the session sees.
    """
    import sqlalchemy as sa

    from scrm.plugin.db import Interaction
    from scrm.plugins.tables.marketing import CampaignLink

    q = (
        sa.select(Interaction)
        .join(CampaignLink, CampaignLink.interaction_id == Interaction.id)
        .where(CampaignLink.campaign == name)
        .order_by(Interaction.created_at)
    )
    if brand is not None:
        q = q.where(Interaction.brand_id == brand)
    rows = session.execute(q).scalars()
    items = list(rows)
    buckets: dict[str, Counter[str]] = defaultdict(Counter)
    scores: dict[str, list[float]] = defaultdict(list)
    complaints: dict[str, list[Interaction]] = defaultdict(list)
    praise: dict[int, int] = Counter()
    for it in items:
        b = _bucket(it.created_at, by, zone)
        buckets[b]["total"] += 1
        buckets[b][it.sentiment or "neutral"] += 1
        scores[b].append(it.sentiment_score or 0.0)
        if it.kind == "complaint":
            complaints[it.category or "other"].append(it)
        if it.customer_id is not None and it.sentiment == "positive":
            praise[it.customer_id] += 1
    volume = [
        {
            "bucket": b,
            "total": c["total"],
            "negative": c["negative"],
            "neutral": c["neutral"],
            "positive": c["positive"],
            "mean_sentiment": round(sum(scores[b]) / len(scores[b]), 3),
        }
        for b, c in sorted(buckets.items())
    ]
    top_complaints = [
        {"category": cat, "count": len(its), "example": its[0].text[:140]}
        for cat, its in sorted(complaints.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:top]
    ]
    followers = _followers(session, set(praise))
    names = _names(session, set(praise))
    advocates_: list[dict[str, Any]] = sorted(
        (
            {
                "customer_id": cid,
                "name": names.get(cid),
                "positive": n,
                "followers": followers[cid],
                "score": round(n * (1 + math.log10(1 + followers[cid])), 2),
            }
            for cid, n in praise.items()
        ),
        key=_rank,
    )[:top]
    start, end = window
    if items:
        start = start or _aware(items[0].created_at)
        end = end or _aware(items[-1].created_at) + timedelta(seconds=1)
    return {
        "campaign": name,
        "mentions": len(items),
        "by": by,
        "volume": volume,
        "top_complaints": top_complaints,
        "top_advocates": advocates_,
        "share_of_voice": share_of_voice(session, start, end, competitors, brand=brand),
    }


def share_of_voice(
    session: Session,
    start: datetime | None,
    end: datetime | None,
    competitors: dict[str, list[str]],
    *,
    brand: int | None = None,
) -> list[dict[str, Any]]:
    """Mentions of the brand (every inbound non-spam message; ``brand``'s only, if given) and
    of each competitor (those of them naming it) between ``start`` and ``end``, with each
    one's share of the total."""

    from scrm.plugin.db import Interaction

    if start is None or end is None:
        return []
    q = _scope_query((brand, "brand"), "mentions").where(
        Interaction.created_at >= start, Interaction.created_at < end
    )
    texts = session.scalars(q.with_only_columns(Interaction.text)).all()
    counts = {"brand": len(texts)}
    norm = [f" {normalize(t)} " for t in texts]
    for comp, terms in competitors.items():
        needles = [normalize(t) for t in terms or [comp]]
        counts[comp] = sum(1 for t in norm if any(n in t for n in needles))
    total = sum(counts.values()) or 1
    return [{"name": k, "mentions": v, "share": round(v / total, 3)} for k, v in counts.items()]


def advocates(
    session: Session, since: datetime, until: datetime, *, min_praise: int, limit: int
) -> list[dict[str, Any]]:
    """Customers with repeated praise: ``score = praise × (1 + log10(1 + followers))``, each
    with the id of the brand it is a customer of (``brand_id``)."""
    import sqlalchemy as sa

    from scrm.plugin.db import Interaction

    rows = session.execute(
        sa.select(
            Interaction.customer_id,
            sa.func.count(),
            sa.func.max(Interaction.created_at),
            Interaction.brand_id,
        )
        .where(
            Interaction.direction == "inbound",
            Interaction.customer_id.is_not(None),
            sa.or_(Interaction.kind == "praise", Interaction.sentiment == "positive"),
            Interaction.created_at >= since,
            Interaction.created_at <= until,
        )
        .group_by(Interaction.customer_id, Interaction.brand_id)  # a customer is one brand's
        .having(sa.func.count() >= min_praise)
    ).all()
    rows_: list[tuple[int, int, datetime, int]] = [tuple(r) for r in rows]  # type: ignore[misc]
    ids = {cid for cid, _, _, _ in rows_}
    followers = _followers(session, ids)
    names = _names(session, ids)
    out: list[dict[str, Any]] = [
        {
            "customer_id": cid,
            "name": names.get(cid),
            "praise": n,
            "followers": followers[cid],
            "last": _aware(last),
            "score": round(n * (1 + math.log10(1 + followers[cid])), 2),
            "brand_id": brand,
        }
        for cid, n, last, brand in rows_
    ]
    out.sort(key=_rank)
    return out[:limit]
