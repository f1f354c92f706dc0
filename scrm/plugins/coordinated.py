"""Coordinated fake complaints: flag bursts of near-duplicates from throw-away accounts.

When a complaint is stored, the complaints within ``window`` of it are compared with it:
texts (normalized, without mentions, hashtags kept) whose character 3-gram Jaccard
similarity is at least ``similarity`` are near-duplicates.  They form a *burst* when they
come from at least ``min_accounts`` different accounts and at least ``suspicious_share`` of
those accounts look suspicious: created less than ``new_account_days`` before posting, fewer
than ``low_followers`` followers, or created within ``creation_spread_days`` of most others.

Every case of a burst is flagged ``suspected_coordinated`` with the evidence (a case flag and a
``flagged`` case event) and moved to the ``review_department``; nothing is closed, deleted or
dismissed, because a real customer may be among them.  ``coordinated_detected`` fires once
per burst; later members join the burst quietly.  A complaint that is not a near-duplicate
is never part of a burst, however close in time.

Configuration (``[plugins.coordinated]``): the names above; ``review_department = ""`` keeps
the cases where they are.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from statistics import median
from typing import Any

import click
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from scrm.cli.context import CliContext, emit, short_time, table
from scrm.core import cases as case_ops
from scrm.core.config import Config
from scrm.core.department_models import CaseFlag
from scrm.core.hookspecs import hookimpl
from scrm.core.models import Case, Department, Identity, Interaction
from scrm.core.schemas import Kind, StoredInteraction
from scrm.core.text import normalize
from scrm.plugins.department import DepartmentPlugin, load_settings

__all__ = ["FLAG", "CoordinatedPlugin", "CoordinatedSettings", "plugin", "text_similarity"]

FLAG = "suspected_coordinated"
_MENTION = re.compile(r"@\w+")


class CoordinatedSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window: timedelta = timedelta(minutes=60)
    similarity: float = Field(default=0.6, gt=0, le=1)
    min_accounts: int = Field(default=5, ge=2)
    suspicious_share: float = Field(default=0.6, gt=0, le=1)
    new_account_days: int = 30
    low_followers: int = 20
    creation_spread_days: int = 10
    max_candidates: int = Field(default=500, ge=10, description="Complaints compared per check.")
    review_department: str = Field(default="review", pattern=r"^$|^[a-z][a-z0-9_]{0,31}$")


def _grams(text: str) -> set[str]:
    s = f" {' '.join(normalize(_MENTION.sub(' ', text)).split())} "
    return {s[i : i + 3] for i in range(len(s) - 2)}


def text_similarity(a: str, b: str) -> float:
    """Character 3-gram Jaccard similarity of two texts in normalized form."""
    ga, gb = _grams(a), _grams(b)
    return len(ga & gb) / len(ga | gb) if ga and gb else 0.0


class CoordinatedPlugin(DepartmentPlugin):
    name = "coordinated"

    def __init__(self, settings: CoordinatedSettings) -> None:
        super().__init__()
        self.settings = settings

    @hookimpl
    def batch_committed(self, interactions: list[StoredInteraction]) -> None:
        """Check the batch's complaints for a coordinated burst, in one transaction."""
        complaints = [
            i.id
            for i in interactions
            if i.classification is not None
            and i.classification.kind is Kind.COMPLAINT
            and i.case_id is not None
        ]
        if not complaints:
            return
        found = []
        with self.session() as s:
            for interaction_id in complaints:
                fired = self._check(s, interaction_id)
                if fired is not None:
                    found.append(fired)
        for case_ids, evidence in found:
            self.notify("coordinated_detected", case_ids=case_ids, evidence=evidence)

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        cli.add_command(review_command)

    def _reasons(
        self, it: Interaction, ident: Identity | None, median_created: datetime | None
    ) -> list[str]:
        s = self.settings
        out: list[str] = []
        if ident is None:
            return out
        if ident.account_created_at is not None:
            age = it.created_at - ident.account_created_at
            if age < timedelta(days=s.new_account_days):
                out.append(f"account {age.days} days old")
            if median_created is not None and abs(
                ident.account_created_at - median_created
            ) <= timedelta(days=s.creation_spread_days):
                out.append("created with the others")
        if ident.followers is not None and ident.followers < s.low_followers:
            out.append(f"{ident.followers} followers")
        return out

    def _check(self, s: Session, interaction_id: int) -> tuple[list[int], dict[str, Any]] | None:
        cfg = self.settings
        it = s.get(Interaction, interaction_id)
        if it is None or it.case_id is None:
            return None
        ident = s.get(Identity, it.identity_id) if it.identity_id else None
        if not self._reasons(it, ident, None) and not self._burst_nearby(s, it.created_at):
            # Cheap exit: a burst is found when one of its suspicious accounts posts; a
            # trustworthy author is only compared when a burst was already flagged nearby.
            return None
        rows = s.execute(
            sa.select(Interaction, Identity)
            .outerjoin(Identity, Identity.id == Interaction.identity_id)
            .where(
                Interaction.direction == "inbound",
                Interaction.kind == Kind.COMPLAINT.value,
                Interaction.case_id.is_not(None),
                Interaction.created_at >= it.created_at - cfg.window,
                Interaction.created_at <= it.created_at + cfg.window,
            )
            .limit(self.settings.max_candidates)
        ).all()
        members = [(o, ident, round(text_similarity(it.text, o.text), 3)) for o, ident in rows]
        members = [m for m in members if m[0].id == it.id or m[2] >= cfg.similarity]
        accounts = {o.identity_id or -o.id for o, _, _ in members}
        if len(accounts) < cfg.min_accounts:
            return None
        created = [i.account_created_at for _, i, _ in members if i and i.account_created_at]
        mid = sorted(created)[len(created) // 2] if len(created) >= cfg.min_accounts else None
        reasons = {o.id: self._reasons(o, ident, mid) for o, ident, _ in members}
        suspicious = {o.identity_id or -o.id for o, _, _ in members if reasons[o.id]}
        if len(suspicious) / len(accounts) < cfg.suspicious_share:
            return None
        case_ids = sorted({o.case_id for o, _, _ in members if o.case_id is not None})
        existing = s.scalars(
            sa.select(CaseFlag).where(CaseFlag.case_id.in_(case_ids), CaseFlag.flag == FLAG)
        ).all()
        flagged = {f.case_id for f in existing}
        group = (existing[0].group_key if existing else None) or uuid.uuid4().hex[:12]
        times = [o.created_at for o, _, _ in members]
        evidence = {
            "burst": group,
            "accounts": len(accounts),
            "suspicious_accounts": len(suspicious),
            "window": [min(times).isoformat(), max(times).isoformat()],
            "similarity_median": median(sim for o, _, sim in members if o.id != it.id) if len(members) > 1 else 1.0,
            "members": [
                {"interaction": o.id, "case": o.case_id, "handle": ident.handle if ident else None,
                 "similarity": sim, "reasons": reasons[o.id]}
                for o, ident, sim in sorted(members, key=lambda m: m[0].created_at)
            ],
        }  # fmt: skip
        new = [cid for cid in case_ids if cid not in flagged]
        for cid in new:
            self._flag(s, cid, group, evidence)
        if existing or not new:
            return None  # the burst was announced when it was first seen
        return new, evidence

    def _burst_nearby(self, s: Session, at: datetime) -> bool:
        """Whether a flagged burst has a message within ``window`` of ``at``."""
        flagged = s.scalar(
            sa.select(CaseFlag.id)
            .join(Interaction, Interaction.case_id == CaseFlag.case_id)
            .where(
                CaseFlag.flag == FLAG,
                Interaction.created_at >= at - self.settings.window,
                Interaction.created_at <= at + self.settings.window,
            )
            .limit(1)
        )
        return flagged is not None

    def _flag(self, s: Session, case_id: int, group: str, evidence: dict[str, Any]) -> None:
        case = s.get(Case, case_id)
        if case is None:
            return
        now = self.clock()
        with s.begin_nested():
            s.add(
                CaseFlag(
                    case_id=case_id, flag=FLAG, group_key=group, evidence=evidence, created_at=now
                )
            )
            try:
                s.flush()
            except sa.exc.IntegrityError:
                return
        note = (f"suspected coordinated complaint: {evidence['accounts']} accounts posted near-duplicates "
                f"between {evidence['window'][0]} and {evidence['window'][1]}; kept open for review")  # fmt: skip
        case_ops.add_event(s, case, "flagged", actor="coordinated", at=now, to_value=FLAG, note=note,
                           data={"burst": group})  # fmt: skip
        review = self.settings.review_department
        if review and (case.department is None or case.department.code != review):
            dep = s.scalar(sa.select(Department).where(Department.code == review))
            if dep is None:
                dep = Department(code=review, name="Review (suspected coordinated complaints)")
                s.add(dep)
                s.flush()
            old = case.department.code if case.department else None
            case.department_id = dep.id
            case.department = dep
            case.version += 1
            case_ops.add_event(s, case, "department", actor="coordinated", at=now, from_value=old,
                               to_value=review, note="routed to review, not dismissed")  # fmt: skip


@click.command("review")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def review_command(obj: CliContext, as_json: bool) -> None:
    """List cases flagged as suspected coordinated complaints, with the evidence."""
    with obj.app().session() as s:
        rows = s.execute(
            sa.select(CaseFlag, Case).join(Case, Case.id == CaseFlag.case_id)
            .where(CaseFlag.flag == FLAG).order_by(CaseFlag.group_key, Case.id)
        ).all()  # fmt: skip
        out = []
        for flag, case in rows:
            me: dict[str, Any] = next(
                (m for m in flag.evidence.get("members", []) if m["case"] == case.id), {}
            )
            out.append({"case_id": case.id, "status": case.status, "burst": flag.group_key,
                        "handle": me.get("handle"), "reasons": me.get("reasons", []),
                        "accounts": flag.evidence.get("accounts"), "flagged_at": flag.created_at,
                        "subject": case.subject})  # fmt: skip
    if as_json:
        emit(out)
        return
    table_rows = [(o["case_id"], o["status"], o["burst"], o["handle"] or "", ", ".join(o["reasons"]),
                   o["accounts"], short_time(o["flagged_at"]), (o["subject"] or "")[:50]) for o in out]  # fmt: skip
    cols = ["case", "status", "burst", "account", "why suspicious", "accounts", "flagged", "text"]
    obj.console.print(
        table("suspected coordinated complaints (review; never auto-dismissed)", cols, table_rows)
    )


def plugin(config: Config) -> CoordinatedPlugin:
    return CoordinatedPlugin(load_settings(CoordinatedSettings, config, "coordinated"))
