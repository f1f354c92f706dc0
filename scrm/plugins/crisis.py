"""Viral crisis: notice the angry customer who is going viral ("United Breaks Guitars").

Every observation of a post's public metrics is kept (``engagement_observations``: the first
when the message is stored, one more on each ``engagement_updated``).  A complaint case's
*virality risk* is a weighted sum of five components, each in [0, 1]:

* ``reach``: ``log10(1 + followers) / 5`` of the customer (100k followers = 1), +0.1 if verified;
* ``engagement``: ``log10(1 + w) / 4`` of the most engaged post on the case, where
  ``w = likes + 2·replies + 3·(shares + quotes)`` (10k weighted interactions = 1);
* ``velocity``: ``log10(1 + v) / 3``, where ``v`` is the growth of ``w`` per hour between the
  two latest observations of a post (at least ``min_interval`` apart), or, with one
  observation, ``w`` divided by the post's age when observed (at least one hour);
* ``repeat``: ``(n - 1) / 3`` for ``n`` posts by the customer on the case;
* ``media``: ``0.5`` per post on the case from a media account (configured handles, accounts
  with ``media_min_followers``, or texts naming the press) plus ``0.1`` per other person who
  joined the thread, capped at 1.

Default weights: reach 0.25, engagement 0.20, velocity 0.20, repeat 0.10, media 0.25.  When the
score reaches ``threshold`` (0.6) the case becomes urgent, escalates to ``owner`` (reassigned and
notified, through :func:`scrm.core.escalation.escalate`) and ``crisis_detected`` fires, once.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from scrm.plugin import (
    CaseEscalated,
    CaseInfo,
    CrisisDetected,
    Engagement,
    EscalationStep,
    Kind,
    Priority,
    SlaPolicy,
    StoredInteraction,
    hookimpl,
    normalize,
)
from scrm.plugins.department import DepartmentPlugin

if TYPE_CHECKING:
    import click
    from sqlalchemy.orm import Session

    from scrm.plugin import EventContext
    from scrm.plugin.db import (
        Case,
    )

__all__ = ["MAX_COUNT", "CrisisPlugin", "CrisisSettings", "clamped", "plugin", "weighted"]


class CrisisSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: float = Field(default=0.6, gt=0, le=1)
    owner: str = Field(
        default="head", description="Agent username, or 'lead'/'head' of the case's department."
    )
    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "reach": 0.25, "engagement": 0.20, "velocity": 0.20, "repeat": 0.10, "media": 0.25,
        }
    )  # fmt: skip
    media_accounts: list[str] = Field(default_factory=list, description="Handles of the press.")
    media_keywords: list[str] = Field(
        default_factory=lambda: ["haber", "gazete", "muhabir", "basin", "journalist", "reporter", "news", "press"]
    )  # fmt: skip
    media_min_followers: int = 250_000
    min_interval: timedelta = timedelta(minutes=15)


#: The largest count or weight kept: the ``weighted`` column is a 32-bit integer, and a
#: platform (or a forged payload) reporting 10^20 likes must not cost the batch its
#: observations.  No real post comes near it, and the score's parts are capped long before.
MAX_COUNT = 2**31 - 1


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        return 0
    return MAX_COUNT if value >= MAX_COUNT else int(value)


def clamped(metrics: dict[str, Any]) -> dict[str, Any]:
    """``metrics`` with every count within ``[0, MAX_COUNT]`` (other values as they are)."""
    return {
        k: _count(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
        for k, v in metrics.items()
    }


def weighted(metrics: dict[str, Any] | None) -> int:
    """``likes + 2·replies + 3·(shares + quotes)``, at most :data:`MAX_COUNT`."""
    m = metrics or {}
    total = (
        _count(m.get("likes"))
        + 2 * _count(m.get("replies"))
        + 3 * (_count(m.get("shares")) + _count(m.get("quotes")))
    )
    return min(total, MAX_COUNT)


#: Messages of a case looked at when scoring it (the most recent ones).
MAX_SCORED = 50
#: Messages whose press check is remembered (a case is scored again with each new message).
PRESS_MEMORY = 20_000


def _observation(interaction_id: int, metrics: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {
        "interaction_id": interaction_id,
        "observed_at": at,
        "weighted": weighted(metrics),
        "metrics": clamped(metrics),
    }


def _post_columns() -> tuple[Any, ...]:
    """The columns of a :class:`_Post` row."""
    from scrm.plugin.db import Identity, Interaction

    return (
        Interaction.case_id,
        Interaction.id,
        Interaction.customer_id,
        Interaction.text,
        Interaction.engagement,
        Interaction.created_at,
        Identity.id.label("identity_id"),
        Identity.followers,
        Identity.verified,
        Identity.handle,
    )


def _epoch() -> Any:
    """Before every message: the cut-off of a case with fewer than ``MAX_SCORED`` posts."""
    import sqlalchemy as sa

    from scrm.plugin.db import UTCDateTime

    return sa.literal(datetime(1970, 1, 1, tzinfo=UTC), UTCDateTime)


def _post(r: Any) -> _Post:
    return _Post(r.id, r.customer_id, r.text, r.engagement, r.created_at,
                 r.identity_id is not None, r.followers, r.verified, r.handle)  # fmt: skip


class _Post(NamedTuple):
    """An inbound message of a case with its author's identity, as scoring needs it."""

    id: int
    customer_id: int | None
    text: str
    engagement: dict[str, Any] | None
    created_at: datetime
    has_identity: bool
    followers: int | None
    verified: bool | None
    handle: str | None


@dataclass
class _Partial:
    """A case's score parts but the velocity, and the posts whose velocity counts."""

    parts: dict[str, float | None]
    engaged: list[int]
    evidence: dict[str, Any]

    def finish(
        self, velocities: dict[int, float], settings: CrisisSettings
    ) -> tuple[float, dict[str, Any]]:
        velocity = max((velocities[i] for i in self.engaged), default=0.0)
        parts = {k: (v if v is not None else 0.0) for k, v in self.parts.items()}
        parts["velocity"] = min(1.0, math.log10(1 + velocity) / 3)
        w = settings.weights
        total = round(sum(w.get(k, 0.0) * v for k, v in parts.items()), 3)
        ev = self.evidence
        evidence = {
            "components": {k: round(v, 3) for k, v in parts.items()},
            "followers": ev["followers"],
            "verified": ev["verified"],
            "top_weighted_engagement": ev["top_weighted_engagement"],
            "velocity_per_hour": round(velocity, 1),
            "customer_posts": ev["customer_posts"],
            "others_joined": ev["others_joined"],
            "media_posts": ev["media_posts"],
        }
        return total, evidence


class CrisisPlugin(DepartmentPlugin):
    name = "crisis"
    Settings = CrisisSettings
    settings: CrisisSettings

    def prepare(self) -> None:
        # Per application (a copy is configured per application): it depends on the settings.
        self._press: dict[int, tuple[int, bool]] = {}
        self._media_handles = {h.lstrip("@").casefold() for h in self.settings.media_accounts}
        self._media_words = [normalize(w) for w in self.settings.media_keywords]

    # -- hooks -------------------------------------------------------------------------------

    @hookimpl
    def batch_committed(self, interactions: list[StoredInteraction], ctx: EventContext) -> None:
        """Record first observations and score each complaint case the batch touched, once.

        Set-based: a constant number of queries per batch (IN-lists in chunks) however many
        cases it touched; a case whose score cannot reach the threshold is not scored fully.
        """
        for plugin, group in self.by_brand(ctx, interactions):
            plugin._score_cases(group, ctx)

    def _score_cases(self, interactions: list[StoredInteraction], ctx: EventContext) -> None:
        """Observe and score one brand's messages, with the brand's settings and SLA policies."""
        import sqlalchemy as sa

        from scrm.plugin.db import Interaction, chunks
        from scrm.plugins.tables.crisis import EngagementObservation

        inbound = [
            i for i in interactions if i.direction.value == "inbound" and i.case_id is not None
        ]
        if not inbound:
            return
        with self.session(ctx) as s:
            now = self.clock()
            observations = []
            for part in chunks([i.id for i in inbound]):
                for interaction_id, engagement in s.execute(
                    sa.select(Interaction.id, Interaction.engagement).where(
                        Interaction.id.in_(part)
                    )
                ):
                    if engagement:  # a JSON null is not SQL NULL: check the value
                        observations.append(_observation(interaction_id, engagement, now))
            if observations:
                s.execute(sa.insert(EngagementObservation), observations)
            case_ids = [c for c in dict.fromkeys(i.case_id for i in inbound) if c is not None]
            hooks = ctx.app.hooks.for_brand(inbound[0].brand)
            results = self._evaluate(s, case_ids, hooks.choose_sla)
            for result in results:
                self._announce(s, ctx, result)

    @hookimpl
    def engagement_updated(
        self, interaction_id: int, engagement: Engagement, ctx: EventContext
    ) -> None:
        import sqlalchemy as sa

        from scrm.plugin.db import Brand, Interaction

        with self.session(ctx) as s:
            row = s.execute(
                sa.select(Interaction.case_id, Brand.key)
                .outerjoin(Brand, Brand.id == Interaction.brand_id)
                .where(Interaction.id == interaction_id)
            ).first()
            # The message's brand's settings and SLA policies, as for a new message.
            brand = row.key if row is not None else None
            plugin = self.configured(ctx.for_brand(brand))
            plugin._observe(s, interaction_id, engagement.model_dump())
            if row is None or row.case_id is None:
                return
            hooks = ctx.app.hooks.for_brand(brand)
            for result in plugin._evaluate(s, [row.case_id], hooks.choose_sla):
                plugin._announce(s, ctx, result)

    @hookimpl
    def register_migrations(self, register: Callable[..., None]) -> None:
        register("scrm.plugins:migrations/crisis", models="scrm.plugins.tables.crisis")

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        from scrm.plugin.cli import add_lazy_command

        def crises() -> click.Command:
            from scrm.plugins.commands.crisis import crises_command

            return crises_command

        add_lazy_command(
            cli,
            "crises",
            "List viral crises (open cases by default) with the evidence behind each score.",
            crises,
        )

    # -- work --------------------------------------------------------------------------------

    def _observe(
        self, s: Session, interaction_id: int, metrics: dict[str, Any], flush: bool = True
    ) -> None:
        from scrm.plugins.tables.crisis import EngagementObservation

        s.add(EngagementObservation(**_observation(interaction_id, metrics, self.clock())))
        if flush:
            s.flush()

    def _velocities(self, s: Session, posts: list[_Post]) -> dict[int, float]:
        """Growth of weighted engagement per hour of each post (see the module docstring),
        from the two latest observations of every post, read in one query (per chunk)."""
        import sqlalchemy as sa

        from scrm.plugin.db import chunks
        from scrm.plugins.tables.crisis import EngagementObservation

        latest: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
        for part in chunks(sorted({p.id for p in posts})):
            rank = (
                sa.func.row_number()
                .over(
                    partition_by=EngagementObservation.interaction_id,
                    order_by=(
                        EngagementObservation.observed_at.desc(),
                        EngagementObservation.id.desc(),
                    ),
                )
                .label("rank")
            )
            inner = (
                sa.select(
                    EngagementObservation.interaction_id,
                    EngagementObservation.observed_at,
                    EngagementObservation.weighted,
                    rank,
                )
                .where(EngagementObservation.interaction_id.in_(part))
                .subquery()
            )
            for iid, observed_at, w, _ in s.execute(
                sa.select(inner).where(inner.c.rank <= 2).order_by(inner.c.rank)
            ):
                latest[iid].append((observed_at, w))
        floor = self.settings.min_interval.total_seconds() / 3600
        out: dict[int, float] = {}
        for p in posts:
            obs = latest.get(p.id)
            if not obs:
                out[p.id] = 0.0
            elif len(obs) == 1:
                age = (obs[0][0] - p.created_at).total_seconds() / 3600
                out[p.id] = obs[0][1] / max(age, 1.0)
            else:
                hours = max((obs[0][0] - obs[1][0]).total_seconds() / 3600, floor)
                out[p.id] = max(0, obs[0][1] - obs[1][1]) / hours
        return out

    def _posts(self, s: Session, case_ids: list[int]) -> dict[int, list[_Post]]:
        """The latest ``MAX_SCORED`` inbound posts of each case, newest first, with authors.

        A case can hold thousands of messages (a customer writing about one problem for
        months), so nothing here reads a whole case: one index seek per case finds the
        creation time of its ``MAX_SCORED``-th latest post, and only posts from then on are
        read, through the ``(case_id, created_at)`` index.
        """
        import sqlalchemy as sa

        from scrm.plugin.db import Case, Identity, Interaction, chunks

        out: dict[int, list[_Post]] = defaultdict(list)
        for part in chunks(sorted(set(case_ids))):
            cutoff = (
                sa.select(Interaction.created_at)
                .where(Interaction.case_id == Case.id, Interaction.direction == "inbound")
                .order_by(Interaction.created_at.desc(), Interaction.id.desc())
                .offset(MAX_SCORED - 1)
                .limit(1)
                .correlate(Case)
                .scalar_subquery()
            )
            # MATERIALIZED: the cut-offs are computed once per case, not once per post.
            cuts = (
                sa.select(Case.id.label("case_id"), cutoff.label("since"))
                .where(Case.id.in_(part))
                .cte("cuts")
                .prefix_with("MATERIALIZED")
            )
            rows = s.execute(
                sa.select(*_post_columns())
                .join(cuts, cuts.c.case_id == Interaction.case_id)
                .outerjoin(Identity, Identity.id == Interaction.identity_id)
                .where(
                    Interaction.direction == "inbound",
                    Interaction.created_at >= sa.func.coalesce(cuts.c.since, _epoch()),
                )
            )
            for r in rows:
                out[r.case_id].append(_post(r))
            self._joined(s, part, out)
        for posts in out.values():  # ties at the cut-off time may bring a few more
            posts.sort(key=lambda p: (p.created_at, p.id), reverse=True)
            del posts[MAX_SCORED:]
        return out

    def _joined(self, s: Session, case_ids: Sequence[int], out: dict[int, list[_Post]]) -> None:
        """Add the posts of other people in the cases' public threads (each person has a
        case of their own, but people joining a complaint's thread is what spreads it)."""
        import sqlalchemy as sa

        from scrm.plugin.db import Identity, Interaction, chunks

        threads: dict[tuple[str, str], set[int]] = defaultdict(set)
        for cid, channel, key in s.execute(
            sa.select(Interaction.case_id, Interaction.channel, Interaction.thread_key)
            .where(
                Interaction.case_id.in_(case_ids),
                Interaction.direction == "inbound",
                Interaction.public.is_(True),
                Interaction.thread_key.is_not(None),
            )
            .distinct()
        ):
            if key is not None and cid is not None:
                threads[(channel, key)].add(cid)
        for part in chunks(sorted(threads)):
            rows = s.execute(
                sa.select(*_post_columns(), Interaction.channel, Interaction.thread_key)
                .outerjoin(Identity, Identity.id == Interaction.identity_id)
                .where(
                    sa.tuple_(Interaction.channel, Interaction.thread_key).in_(part),
                    Interaction.direction == "inbound",
                )
                .order_by(Interaction.created_at.desc(), Interaction.id.desc())
                .limit(MAX_SCORED * len(part))
            )
            for r in rows:
                for cid in threads[(r.channel, r.thread_key)]:
                    if r.case_id != cid:
                        out[cid].append(_post(r))

    def score(self, s: Session, case: Case) -> tuple[float, dict[str, Any]]:
        """Return the case's virality risk and its evidence (see the module docstring)."""
        posts = self._posts(s, [case.id]).get(case.id, [])
        partial = self._partial(case.customer_id, posts, prune=False)
        assert partial is not None
        engaged = [p for p in posts if p.engagement]
        return partial.finish(self._velocities(s, engaged) if engaged else {}, self.settings)

    def _partial(
        self, customer_id: int | None, posts: list[_Post], *, prune: bool
    ) -> _Partial | None:
        """Every part of a case's score but the velocity; with ``prune``, ``None`` when the
        score cannot reach the threshold whatever the parts not yet known (the press check
        runs only when it could matter, the velocity is left to :meth:`_Partial.finish`)."""
        own = [p for p in posts if p.customer_id == customer_id]
        others = [p for p in posts if p.customer_id != customer_id]
        if prune and own and all(self._is_media(p) for p in own):
            # The press writing in a customer's thread is evidence on that customer's case
            # (media, below), not a crisis of its own.
            return None
        followers = max((p.followers or 0 for p in own if p.has_identity), default=0)
        verified = any(p.verified for p in own if p.has_identity)
        top_w = max((weighted(p.engagement) for p in posts), default=0)
        joined = len({p.customer_id for p in others})
        parts: dict[str, float | None] = {
            "reach": min(1.0, math.log10(1 + followers) / 5 + (0.1 if verified else 0.0)),
            "engagement": min(1.0, math.log10(1 + top_w) / 4),
            "velocity": None,
            "repeat": min(1.0, (len(own) - 1) / 3) if own else 0.0,
            "media": None,
        }
        if prune and self._ceiling(parts) < self.settings.threshold:
            return None
        media = [p.id for p in others if self._is_media(p)]
        media += [p.id for p in own if self._names_press(p.id, p.text)]
        parts["media"] = min(1.0, 0.5 * len(media) + 0.1 * joined)
        if prune and self._ceiling(parts) < self.settings.threshold:
            return None
        evidence = {
            "followers": followers,
            "verified": verified,
            "top_weighted_engagement": top_w,
            "customer_posts": len(own),
            "others_joined": joined,
            "media_posts": media,
        }
        return _Partial(parts, [p.id for p in posts if p.engagement], evidence)

    def _ceiling(self, parts: dict[str, float | None]) -> float:
        """The highest score a case can have whatever its unknown (``None``) parts.

        Every part lies in [0, 1]: an unknown part counts 1 under a positive weight and 0
        under any other.  The sum is taken in the score's order and rounded the same way, so
        the ceiling is never below the score (float addition is monotonic).
        """
        w = self.settings.weights
        total = 0.0
        for k, v in parts.items():
            weight = w.get(k, 0.0)
            total += weight * (v if v is not None else (1.0 if weight > 0 else 0.0))
        return round(total, 3)

    def _names_press(self, interaction_id: int, text: str) -> bool:
        """Whether the text names the press; remembered per message, since a case is scored
        again whenever it gets a message and its older texts do not change."""
        hit = self._press.get(interaction_id)
        if hit is not None and hit[0] == hash(text):  # an erased text is checked again
            return hit[1]
        norm = f" {normalize(text)}"
        found = any(f" {w}" in norm for w in self._media_words)
        if len(self._press) >= PRESS_MEMORY:
            self._press.clear()  # bounded memory on endless streams
        self._press[interaction_id] = (hash(text), found)
        return found

    def _is_media(self, p: _Post) -> bool:
        if p.has_identity:
            if (p.handle or "").casefold() in self._media_handles:
                return True
            if (p.followers or 0) >= self.settings.media_min_followers:
                return True
        return self._names_press(p.id, p.text)

    def _evaluate(
        self, s: Session, case_ids: list[int], policy_for: Callable[[CaseInfo], SlaPolicy | None]
    ) -> list[tuple[CaseInfo, float, dict[str, Any], str]]:
        """Score the open complaint cases among ``case_ids`` that had no crisis yet, and
        detect those at or above the threshold, in the order given."""
        import sqlalchemy as sa

        from scrm.plugin.db import OPEN_STATUSES, Case, chunks
        from scrm.plugins.tables.crisis import Crisis

        customers: dict[int, int | None] = {}
        for part in chunks(case_ids):
            for cid, customer_id in s.execute(
                sa.select(Case.id, Case.customer_id).where(
                    Case.id.in_(part),
                    Case.kind == Kind.COMPLAINT.value,
                    Case.status.in_(OPEN_STATUSES),
                )
            ):
                customers[cid] = customer_id
            for cid in s.scalars(sa.select(Crisis.case_id).where(Crisis.case_id.in_(part))):
                customers.pop(cid, None)
        if not customers:
            return []
        posts = self._posts(s, list(customers))
        partials = {}
        for case_id, customer in customers.items():
            partial = self._partial(customer, posts.get(case_id, []), prune=True)
            if partial is not None:
                partials[case_id] = partial
        engaged = sorted({iid for p in partials.values() for iid in p.engaged})
        by_id = {p.id: p for cid in partials for p in posts[cid]} if engaged else {}
        velocities = self._velocities(s, [by_id[i] for i in engaged]) if engaged else {}
        results = []
        for cid in case_ids:
            if cid not in partials:
                continue
            score, evidence = partials[cid].finish(velocities, self.settings)
            if score < self.settings.threshold:
                continue
            result = self._detect(s, cid, score, evidence, policy_for)
            if result is not None:
                results.append(result)
        return results

    def _detect(
        self,
        s: Session,
        case_id: int,
        score: float,
        evidence: dict[str, Any],
        policy_for: Callable[[CaseInfo], SlaPolicy | None],
    ) -> tuple[CaseInfo, float, dict[str, Any], str] | None:
        import sqlalchemy as sa

        from scrm.plugin.db import Case, add_case_event, apply_sla, case_info, escalate
        from scrm.plugins.tables.crisis import Crisis

        case = s.get(Case, case_id)
        if case is None:
            return None
        now = self.clock()
        with s.begin_nested():
            s.add(Crisis(case_id=case.id, score=score, evidence=evidence, detected_at=now))
            try:
                s.flush()
            except sa.exc.IntegrityError:  # another worker detected it first
                return None
        reason = f"viral crisis risk {score:.2f} >= {self.settings.threshold:.2f}"
        if case.priority != Priority.URGENT.value:
            add_case_event(s, case, "priority", actor="crisis", at=now,
                               from_value=case.priority, to_value=Priority.URGENT.value, note=reason)  # fmt: skip
            case.priority = Priority.URGENT.value
            apply_sla(case, policy_for(case_info(case)))
        add_case_event(s, case, "crisis", actor="crisis", at=now, to_value=f"{score:.2f}",
                           note=reason, data=evidence)  # fmt: skip
        step = EscalationStep(
            after=timedelta(0), to=self.settings.owner, actions=("notify", "reassign")
        )
        summary = escalate(s, case, step, reason=reason, at=now, actor="crisis")
        s.flush()
        return case_info(case), score, evidence, summary

    def _announce(
        self,
        s: Session,
        ctx: EventContext,
        result: tuple[CaseInfo, float, dict[str, Any], str],
    ) -> None:
        import sqlalchemy as sa

        from scrm.plugin.db import Case

        info, score, evidence, summary = result
        level = s.scalar(sa.select(Case.escalation_level).where(Case.id == info.id)) or 1
        ctx.emit(CaseEscalated(case=info, level=level, reason="viral crisis", summary=summary))
        ctx.emit(CrisisDetected(case=info, score=score, evidence=evidence))


plugin = CrisisPlugin()
"""The registered plugin (``DEFAULT_PLUGINS``); it reads each application's settings."""
