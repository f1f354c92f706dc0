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
from datetime import timedelta
from typing import Any

import click
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session, load_only

from scrm.cli.context import CliContext, emit, short_time, table
from scrm.core import cases as case_ops
from scrm.core.config import Config, EscalationStep
from scrm.core.department_models import Crisis, EngagementObservation
from scrm.core.escalation import escalate
from scrm.core.hookspecs import hookimpl
from scrm.core.models import Case, Identity, Interaction
from scrm.core.schemas import CaseInfo, Engagement, Kind, Priority, StoredInteraction
from scrm.core.text import normalize
from scrm.plugins.department import DepartmentPlugin, load_settings

__all__ = ["CrisisPlugin", "CrisisSettings", "plugin", "weighted"]


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


def weighted(metrics: dict[str, Any] | None) -> int:
    """``likes + 2·replies + 3·(shares + quotes)``."""
    m = metrics or {}
    return int(
        (m.get("likes") or 0)
        + 2 * (m.get("replies") or 0)
        + 3 * ((m.get("shares") or 0) + (m.get("quotes") or 0))
    )


#: Messages of a case looked at when scoring it (the most recent ones).
MAX_SCORED = 50


class CrisisPlugin(DepartmentPlugin):
    name = "crisis"

    def __init__(self, settings: CrisisSettings) -> None:
        super().__init__()
        self.settings = settings
        self._media_handles = {h.lstrip("@").casefold() for h in settings.media_accounts}
        self._media_words = [normalize(w) for w in settings.media_keywords]

    # -- hooks -------------------------------------------------------------------------------

    @hookimpl
    def batch_committed(self, interactions: list[StoredInteraction]) -> None:
        """Record first observations and score each complaint case the batch touched, once."""
        inbound = [
            i for i in interactions if i.direction.value == "inbound" and i.case_id is not None
        ]
        if not inbound:
            return
        results = []
        with self.session() as s:
            rows = s.execute(
                sa.select(Interaction.id, Interaction.engagement).where(
                    Interaction.id.in_([i.id for i in inbound])
                )
            ).all()
            for interaction_id, engagement in rows:
                if engagement:  # a JSON null is not SQL NULL: check the value
                    self._observe(s, interaction_id, engagement, flush=False)
            s.flush()
            for case_id in dict.fromkeys(i.case_id for i in inbound):
                results.append(self._evaluate(s, case_id))  # type: ignore[arg-type]
        for result in results:
            self._announce(result)

    @hookimpl
    def engagement_updated(self, interaction_id: int, engagement: Engagement) -> None:
        with self.session() as s:
            self._observe(s, interaction_id, engagement.model_dump())
            case_id = s.scalar(
                sa.select(Interaction.case_id).where(Interaction.id == interaction_id)
            )
            result = self._evaluate(s, case_id) if case_id else None
        self._announce(result)

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        cli.add_command(crises_command)

    # -- work --------------------------------------------------------------------------------

    def _observe(
        self, s: Session, interaction_id: int, metrics: dict[str, Any], flush: bool = True
    ) -> None:
        s.add(
            EngagementObservation(
                interaction_id=interaction_id,
                observed_at=self.clock(),
                weighted=weighted(metrics),
                metrics=dict(metrics),
            )
        )
        if flush:
            s.flush()

    def _velocity(self, s: Session, it: Interaction) -> float:
        obs = s.scalars(
            sa.select(EngagementObservation)
            .where(EngagementObservation.interaction_id == it.id)
            .order_by(EngagementObservation.observed_at.desc(), EngagementObservation.id.desc())
            .limit(2)
        ).all()
        if not obs:
            return 0.0
        floor = self.settings.min_interval.total_seconds() / 3600
        if len(obs) == 1:
            age = (obs[0].observed_at - it.created_at).total_seconds() / 3600
            return obs[0].weighted / max(age, 1.0)
        hours = max((obs[0].observed_at - obs[1].observed_at).total_seconds() / 3600, floor)
        return max(0, obs[0].weighted - obs[1].weighted) / hours

    def score(self, s: Session, case: Case) -> tuple[float, dict[str, Any]]:
        """Return the case's virality risk and its evidence (see the module docstring)."""
        rows = s.execute(
            sa.select(Interaction, Identity)
            .outerjoin(Identity, Identity.id == Interaction.identity_id)
            .where(Interaction.case_id == case.id, Interaction.direction == "inbound")
            .order_by(Interaction.created_at.desc())
            .limit(MAX_SCORED)  # the latest posts carry the risk; keeps each check bounded
            .options(
                load_only(
                    Interaction.id,
                    Interaction.customer_id,
                    Interaction.text,
                    Interaction.engagement,
                    Interaction.created_at,
                ),
                load_only(Identity.followers, Identity.verified, Identity.handle),
            )
        ).all()
        own = [(it, ident) for it, ident in rows if it.customer_id == case.customer_id]
        others = [(it, ident) for it, ident in rows if it.customer_id != case.customer_id]
        followers = max((ident.followers or 0 for _, ident in own if ident), default=0)
        verified = any(ident.verified for _, ident in own if ident)
        top_w = max((weighted(it.engagement) for it, _ in rows), default=0)
        velocity = max((self._velocity(s, it) for it, _ in rows if it.engagement), default=0.0)
        media = [it.id for it, ident in others if self._is_media(it, ident)]
        media += [it.id for it, _ in own if self._names_press(it.text)]
        parts = {
            "reach": min(1.0, math.log10(1 + followers) / 5 + (0.1 if verified else 0.0)),
            "engagement": min(1.0, math.log10(1 + top_w) / 4),
            "velocity": min(1.0, math.log10(1 + velocity) / 3),
            "repeat": min(1.0, (len(own) - 1) / 3) if own else 0.0,
            "media": min(1.0, 0.5 * len(media) + 0.1 * len({it.customer_id for it, _ in others})),
        }
        w = self.settings.weights
        total = round(sum(w.get(k, 0.0) * v for k, v in parts.items()), 3)
        evidence = {
            "components": {k: round(v, 3) for k, v in parts.items()},
            "followers": followers,
            "verified": verified,
            "top_weighted_engagement": top_w,
            "velocity_per_hour": round(velocity, 1),
            "customer_posts": len(own),
            "others_joined": len({it.customer_id for it, _ in others}),
            "media_posts": media,
        }
        return total, evidence

    def _names_press(self, text: str) -> bool:
        norm = f" {normalize(text)}"
        return any(f" {w}" in norm for w in self._media_words)

    def _is_media(self, it: Interaction, ident: Identity | None) -> bool:
        if ident is not None:
            if (ident.handle or "").casefold() in self._media_handles:
                return True
            if (ident.followers or 0) >= self.settings.media_min_followers:
                return True
        return self._names_press(it.text)

    def _evaluate(
        self, s: Session, case_id: int
    ) -> tuple[CaseInfo, float, dict[str, Any], str] | None:
        case = s.get(Case, case_id)
        if case is None or case.kind != Kind.COMPLAINT.value:
            return None
        if case.status not in case_ops.OPEN_STATUSES:
            return None
        if s.scalar(sa.select(Crisis.id).where(Crisis.case_id == case_id)) is not None:
            return None
        score, evidence = self.score(s, case)
        if score < self.settings.threshold:
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
            case_ops.add_event(s, case, "priority", actor="crisis", at=now,
                               from_value=case.priority, to_value=Priority.URGENT.value, note=reason)  # fmt: skip
            case.priority = Priority.URGENT.value
            if self.app is not None:
                case_ops.apply_sla(case, self.app.hooks.choose_sla(case_ops.case_info(case)))
        case_ops.add_event(s, case, "crisis", actor="crisis", at=now, to_value=f"{score:.2f}",
                           note=reason, data=evidence)  # fmt: skip
        step = EscalationStep(
            after=timedelta(0), to=self.settings.owner, actions=("notify", "reassign")
        )
        summary = escalate(s, case, step, reason=reason, at=now, actor="crisis")
        s.flush()
        return case_ops.case_info(case), score, evidence, summary

    def _announce(self, result: tuple[CaseInfo, float, dict[str, Any], str] | None) -> None:
        if result is None:
            return
        info, score, evidence, summary = result
        with self.session() as s:
            level = s.scalar(sa.select(Case.escalation_level).where(Case.id == info.id)) or 1
        self.notify(
            "case_escalated", case=info, level=level, reason="viral crisis", summary=summary
        )
        self.notify("crisis_detected", case=info, score=score, evidence=evidence)


@click.command("crises")
@click.option(
    "--all", "show_all", is_flag=True, help="Also crises whose case is resolved or closed."
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def crises_command(obj: CliContext, show_all: bool, as_json: bool) -> None:
    """List viral crises (open cases by default) with the evidence behind each score."""
    with obj.app().session() as s:
        q = (
            sa.select(Crisis, Case)
            .join(Case, Case.id == Crisis.case_id)
            .order_by(Crisis.detected_at.desc())
        )
        if not show_all:
            q = q.where(Case.status.in_(case_ops.OPEN_STATUSES))
        out: list[dict[str, Any]] = [
            {
                "case_id": case.id,
                "status": case.status,
                "priority": case.priority,
                "assignee": case.assignee.username if case.assignee else None,
                "score": crisis.score,
                "detected_at": crisis.detected_at,
                "subject": case.subject,
                "evidence": crisis.evidence,
            }
            for crisis, case in s.execute(q)
        ]
    if as_json:
        emit(out)
        return
    rows = []
    for c in out:
        ev = c["evidence"]
        parts = " ".join(f"{k}={v}" for k, v in ev.get("components", {}).items())
        why = (f"{ev.get('followers')} followers, w={ev.get('top_weighted_engagement')}, "
               f"v={ev.get('velocity_per_hour')}/h, {ev.get('customer_posts')} posts, "
               f"{ev.get('others_joined')} joined, media {ev.get('media_posts')}; {parts}")  # fmt: skip
        rows.append((c["case_id"], c["status"], c["priority"], c["assignee"] or "-", c["score"],
                     short_time(c["detected_at"]), (c["subject"] or "")[:40], why))  # fmt: skip
    cols = ["case", "status", "priority", "owner", "risk", "detected", "subject", "evidence"]
    obj.console.print(table("crises", cols, rows))


def plugin(config: Config) -> CrisisPlugin:
    return CrisisPlugin(load_settings(CrisisSettings, config, "crisis"))
