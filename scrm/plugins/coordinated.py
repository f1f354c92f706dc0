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

import bisect
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from scrm.plugin import CoordinatedDetected, Kind, StoredInteraction, hookimpl, normalize
from scrm.plugins.department import DepartmentPlugin, merge_spans

if TYPE_CHECKING:
    import click
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from scrm.plugin import EventContext

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


def _jaccard(ga: set[str], gb: set[str]) -> float:
    return len(ga & gb) / len(ga | gb) if ga and gb else 0.0


def text_similarity(a: str, b: str) -> float:
    """Character 3-gram Jaccard similarity of two texts in normalized form."""
    return _jaccard(_grams(a), _grams(b))


#: Messages whose 3-grams are remembered between batches (neighbours are compared again);
#: about 6 KB each.
GRAM_MEMORY = 5_000


class _Msg(NamedTuple):
    """An inbound complaint with its author's identity, as the check needs it."""

    id: int
    case_id: int | None
    identity_id: int | None
    created_at: datetime
    text: str
    has_identity: bool
    account_created_at: datetime | None
    followers: int | None
    handle: str | None


def _msg_query() -> Any:
    import sqlalchemy as sa

    from scrm.plugin.db import Identity, Interaction

    return sa.select(
        Interaction.id,
        Interaction.case_id,
        Interaction.identity_id,
        Interaction.created_at,
        Interaction.text,
        Identity.id.is_not(None).label("has_identity"),
        Identity.account_created_at,
        Identity.followers,
        Identity.handle,
    ).outerjoin(Identity, Identity.id == Interaction.identity_id)


def _within(column: Any, spans: Sequence[tuple[datetime, datetime]]) -> sa.ColumnElement[bool]:
    import sqlalchemy as sa

    return sa.or_(*(column.between(lo, hi) for lo, hi in spans))


class CoordinatedPlugin(DepartmentPlugin):
    name = "coordinated"
    Settings = CoordinatedSettings
    settings: CoordinatedSettings

    def prepare(self) -> None:
        # Per application (a copy is configured per application), as interaction ids are.
        self._grams: dict[int, tuple[int, set[str]]] = {}

    @hookimpl
    def batch_committed(self, interactions: list[StoredInteraction], ctx: EventContext) -> None:
        """Check the batch's complaints for a coordinated burst, in one transaction.

        Set-based: the complaints, their authors, the flagged bursts near them and the
        complaints they are compared with are read in a constant number of queries; the
        complaints are then checked one by one, in ingest order, as if each were alone.
        """
        found = []
        for plugin, group in self.by_brand(ctx, interactions):
            complaints = [
                i.id
                for i in group
                if i.classification is not None
                and i.classification.kind is Kind.COMPLAINT
                and i.case_id is not None
            ]
            if not complaints:
                continue
            with plugin.session(ctx) as s:
                found.extend(_Batch(plugin, s, complaints).run())
        for case_ids, evidence in found:
            ctx.emit(CoordinatedDetected(case_ids=case_ids, evidence=evidence))

    @hookimpl
    def register_migrations(self, register: Callable[..., None]) -> None:
        register("scrm.plugins:migrations/coordinated", models="scrm.plugins.tables.coordinated")

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        from scrm.plugin.cli import add_lazy_command

        def review() -> click.Command:
            from scrm.plugins.commands.coordinated import review_command

            return review_command

        add_lazy_command(
            cli,
            "review",
            "List cases flagged as suspected coordinated complaints, with the evidence.",
            review,
        )

    def grams(self, m: _Msg) -> set[str]:
        """The 3-grams of a message's text, remembered per message (texts do not change)."""
        hit = self._grams.get(m.id)
        if hit is not None and hit[0] == hash(m.text):  # an erased text is cut again
            return hit[1]
        g = _grams(m.text)
        if len(self._grams) >= GRAM_MEMORY:
            self._grams.clear()  # bounded memory on endless streams
        self._grams[m.id] = (hash(m.text), g)
        return g

    def _reasons(self, it: _Msg, median_created: datetime | None) -> list[str]:
        s = self.settings
        out: list[str] = []
        if not it.has_identity:
            return out
        if it.account_created_at is not None:
            age = it.created_at - it.account_created_at
            if age < timedelta(days=s.new_account_days):
                out.append(f"account {age.days} days old")
            if median_created is not None and abs(
                it.account_created_at - median_created
            ) <= timedelta(days=s.creation_spread_days):
                out.append("created with the others")
        if it.followers is not None and it.followers < s.low_followers:
            out.append(f"{it.followers} followers")
        return out

    def _check(
        self, s: Session, it: _Msg, rows: list[_Msg]
    ) -> tuple[tuple[list[int], dict[str, Any]] | None, list[int]]:
        """Check one complaint against ``rows``, the complaints within ``window`` of it.

        Returns the burst to announce (``None`` when there is none, or it was announced
        before) and the cases flagged now.
        """
        import sqlalchemy as sa

        from scrm.plugins.tables.coordinated import CaseFlag

        cfg = self.settings
        mine = self.grams(it)
        members = [(o, round(_jaccard(mine, self.grams(o)), 3)) for o in rows]
        members = [m for m in members if m[0].id == it.id or m[1] >= cfg.similarity]
        accounts = {o.identity_id or -o.id for o, _ in members}
        if len(accounts) < cfg.min_accounts:
            return None, []
        created = [
            o.account_created_at for o, _ in members if o.has_identity and o.account_created_at
        ]
        mid = sorted(created)[len(created) // 2] if len(created) >= cfg.min_accounts else None
        reasons = {o.id: self._reasons(o, mid) for o, _ in members}
        suspicious = {o.identity_id or -o.id for o, _ in members if reasons[o.id]}
        if len(suspicious) / len(accounts) < cfg.suspicious_share:
            return None, []
        case_ids = sorted({o.case_id for o, _ in members if o.case_id is not None})
        existing = s.scalars(
            sa.select(CaseFlag).where(CaseFlag.case_id.in_(case_ids), CaseFlag.flag == FLAG)
        ).all()
        flagged = {f.case_id for f in existing}
        group = (existing[0].group_key if existing else None) or uuid.uuid4().hex[:12]
        from statistics import median  # not at start-up: statistics loads decimal, fractions

        times = [o.created_at for o, _ in members]
        evidence = {
            "burst": group,
            "accounts": len(accounts),
            "suspicious_accounts": len(suspicious),
            "window": [min(times).isoformat(), max(times).isoformat()],
            "similarity_median": median(sim for o, sim in members if o.id != it.id) if len(members) > 1 else 1.0,
            "members": [
                {"interaction": o.id, "case": o.case_id, "handle": o.handle if o.has_identity else None,
                 "similarity": sim, "reasons": reasons[o.id]}
                for o, sim in sorted(members, key=lambda m: m[0].created_at)
            ],
        }  # fmt: skip
        new = [cid for cid in case_ids if cid not in flagged]
        for cid in new:
            self._flag(s, cid, group, evidence)
        if existing or not new:
            return None, new  # the burst was announced when it was first seen
        return (new, evidence), new

    def _flag(self, s: Session, case_id: int, group: str, evidence: dict[str, Any]) -> None:
        import sqlalchemy as sa

        from scrm.plugin.db import Case, Department, add_case_event
        from scrm.plugins.tables.coordinated import CaseFlag

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
        add_case_event(s, case, "flagged", actor="coordinated", at=now, to_value=FLAG, note=note,
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
            add_case_event(s, case, "department", actor="coordinated", at=now, from_value=old,
                               to_value=review, note="routed to review, not dismissed")  # fmt: skip


class _Batch:
    """One batch's check: what it reads from the database, read once."""

    def __init__(self, plugin: CoordinatedPlugin, s: Session, ids: list[int]) -> None:
        import sqlalchemy as sa

        from scrm.plugin.db import Interaction, chunks

        self.p = plugin
        self.s = s
        self.window = plugin.settings.window
        found: dict[int, _Msg] = {}
        for part in chunks(ids):
            for row in s.execute(_msg_query().where(Interaction.id.in_(part))):
                found[row.id] = _Msg(*row)
        # A batch is one brand's (the pipeline writes each brand's messages apart): a burst
        # against this brand is looked for among its own complaints only.
        self.brand_id: int | None = (
            s.scalar(sa.select(Interaction.brand_id).where(Interaction.id == ids[0]))
            if ids
            else None
        )
        self.complaints = [found[i] for i in dict.fromkeys(ids) if i in found]
        self.complaints = [m for m in self.complaints if m.case_id is not None]
        self.flagged_times: list[datetime] = []
        self.pool: dict[int, _Msg] = {}
        self.pool_sorted: list[_Msg] = []
        self.pool_times: list[datetime] = []
        self.pool_spans: list[tuple[datetime, datetime]] = []

    def spans(self, msgs: list[_Msg]) -> list[tuple[datetime, datetime]]:
        return merge_spans([(m.created_at - self.window, m.created_at + self.window) for m in msgs])

    def run(self) -> list[tuple[list[int], dict[str, Any]]]:
        p = self.p
        alone = {m.id for m in self.complaints if p._reasons(m, None)}
        trusted = [m for m in self.complaints if m.id not in alone]
        if trusted:
            self._load_flagged_times(self.spans(trusted), None)
        # The complaints compared with the suspicious ones (and those near a burst already).
        self._load_pool(self.spans([m for m in self.complaints if m.id in alone or self._near(m)]))
        out = []
        for it in self.complaints:
            if it.id not in alone and not self._near(it):
                # Cheap exit: a burst is found when one of its suspicious accounts posts; a
                # trustworthy author is only compared when a burst was already flagged nearby.
                continue
            fired, flagged = p._check(self.s, it, self._candidates(it))
            if flagged and trusted:
                self._load_flagged_times(self.spans(trusted), flagged)
            if fired is not None:
                out.append(fired)
        return out

    def _near(self, m: _Msg) -> bool:
        """Whether a flagged burst has a message within ``window`` of ``m``."""
        i = bisect.bisect_left(self.flagged_times, m.created_at - self.window)
        return i < len(self.flagged_times) and self.flagged_times[i] <= m.created_at + self.window

    def _load_flagged_times(
        self, spans: list[tuple[datetime, datetime]], cases: list[int] | None
    ) -> None:
        """Times of the messages of flagged cases (all, or ``cases``) within ``spans``."""
        import sqlalchemy as sa

        from scrm.plugin.db import Interaction, chunks
        from scrm.plugins.tables.coordinated import CaseFlag

        for part in chunks(spans, 100):
            q = (
                sa.select(Interaction.created_at)
                .join(CaseFlag, CaseFlag.case_id == Interaction.case_id)
                .where(
                    CaseFlag.flag == FLAG,
                    Interaction.brand_id == self.brand_id,
                    _within(Interaction.created_at, part),
                )
            )
            if cases is not None:
                q = q.where(CaseFlag.case_id.in_(cases))
            self.flagged_times.extend(self.s.scalars(q))
        self.flagged_times.sort()

    def _load_pool(self, spans: list[tuple[datetime, datetime]]) -> None:
        """Read the inbound complaints with a case within ``spans`` (those not read yet)."""
        from scrm.plugin.db import Interaction, chunks

        missing = []
        for lo, hi in spans:
            if not any(a <= lo and hi <= b for a, b in self.pool_spans):
                missing.append((lo, hi))
        if not missing:
            return
        for part in chunks(missing, 100):
            q = _msg_query().where(
                Interaction.brand_id == self.brand_id,
                Interaction.direction == "inbound",
                Interaction.kind == Kind.COMPLAINT.value,
                Interaction.case_id.is_not(None),
                _within(Interaction.created_at, part),
            )
            for row in self.s.execute(q):
                self.pool[row.id] = _Msg(*row)
        self.pool_spans = merge_spans([*self.pool_spans, *missing])
        self.pool_sorted = sorted(self.pool.values(), key=lambda m: (m.created_at, m.id))
        self.pool_times = [m.created_at for m in self.pool_sorted]

    def _candidates(self, it: _Msg) -> list[_Msg]:
        """The complaints within ``window`` of ``it``: the first ``max_candidates`` in time."""
        lo, hi = it.created_at - self.window, it.created_at + self.window
        self._load_pool([(lo, hi)])
        i = bisect.bisect_left(self.pool_times, lo)
        j = bisect.bisect_right(self.pool_times, hi)
        return self.pool_sorted[i : min(j, i + self.p.settings.max_candidates)]


plugin = CoordinatedPlugin()
"""The registered plugin (``DEFAULT_PLUGINS``); it reads each application's settings."""
