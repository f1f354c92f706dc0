"""Marketing and communication: campaigns, spike alerts, brand advocates.

Configuration (``[plugins.marketing]``)::

    competitors = { Rakip = ["rakip"], OtherTel = ["othertel", "other tel"] }

    [[plugins.marketing.campaigns]]
    name = "fiber"
    start = "2024-10-22T00:00:00+03:00"
    end = "2024-10-27T00:00:00+03:00"
    terms = { tr = ["#AcmeFiberKampanya"], en = ["#AcmeFiberDeal", "fiber deal"] }

    [plugins.marketing.spikes]
    window_hours = 24
    alpha = 0.001
    min_count = 5

Every inbound message that names a campaign's hashtag or keyword (any language's list; the
text is compared in :func:`~scrm.core.text.normalize` form) inside its time window is linked
to it.  After each stored message the hour it falls in is judged by the rule in
:mod:`scrm.plugins.marketing_stats`, for the brand and for each campaign it belongs to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from scrm.plugin import SpikeDetected, StoredInteraction, hookimpl, normalize
from scrm.plugins.department import DepartmentPlugin

if TYPE_CHECKING:
    import click

    from scrm.plugin import EventContext, PluginContext
    from scrm.plugin.db import Dimension

__all__ = ["Campaign", "MarketingPlugin", "MarketingSettings", "plugin"]


class Campaign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Not [\w.-]{1,128}: pydantic's regex engine takes 70 ms to compile a bounded repeat of
    # the Unicode \w class, at every start-up.
    name: str = Field(
        pattern=r"^[\w.-]+$", max_length=128, description="Short name used on the CLI."
    )
    terms: dict[str, list[str]] = Field(
        description="Hashtags and keywords per language, e.g. {tr = [...], en = [...]}."
    )
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None

    @model_validator(mode="after")
    def _check(self) -> Campaign:
        if not any(self.terms.values()):
            raise ValueError(f"campaign {self.name!r} has no hashtags or keywords")
        if self.start and self.end and self.end <= self.start:
            raise ValueError(f"campaign {self.name!r} ends before it starts")
        return self

    def patterns(self) -> list[tuple[str, re.Pattern[str]]]:
        out = []
        for terms in self.terms.values():
            for term in terms:
                norm = normalize(term)
                out.append((term, re.compile(rf"(?<![\w#]){re.escape(norm)}(?!\w)")))
        return out

    def covers(self, at: datetime) -> bool:
        return (self.start is None or at >= self.start) and (self.end is None or at < self.end)


class SpikeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window_hours: int = Field(default=24, ge=2, le=24 * 14, description="Rolling baseline.")
    alpha: float = Field(default=0.001, gt=0, lt=0.5, description="Poisson tail cut-off.")
    min_count: int = Field(default=5, ge=1, description="Fewer messages never make a spike.")
    min_baseline: float = Field(default=0.5, gt=0, description="Floor of the hourly baseline.")
    metrics: tuple[str, ...] = ("mentions", "negative")


class MarketingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaigns: list[Campaign] = []
    competitors: dict[str, list[str]] = Field(
        default_factory=dict, description="Competitor name -> the words that name it."
    )
    spikes: SpikeSettings = Field(default_factory=SpikeSettings)


class MarketingPlugin(DepartmentPlugin):
    name = "marketing"
    Settings = MarketingSettings
    settings: MarketingSettings

    def __init__(self, settings: MarketingSettings | None = None) -> None:
        self.zone = ZoneInfo("UTC")
        super().__init__(settings)

    def prepare(self) -> None:
        self._patterns = {c.name: c.patterns() for c in self.settings.campaigns}
        # Each scope's first message, per application (a copy is configured per application).
        self._history_start: dict[tuple[str, str], datetime] = {}

    def configured(self, ctx: PluginContext) -> MarketingPlugin:
        bound = super().configured(ctx)
        bound.zone = ZoneInfo(ctx.config.timezone)  # campaign reports are in local days
        return bound

    def campaign(self, name: str) -> Campaign:
        for c in self.settings.campaigns:
            if c.name == name:
                return c
        from scrm.plugin import N_, NotFound  # loads the database layer

        known = ", ".join(c.name for c in self.settings.campaigns) or "none configured"
        raise NotFound(N_("no campaign %(name)r; campaigns: %(known)s"), name=name, known=known)

    def match(self, text: str, at: datetime) -> list[tuple[str, str]]:
        """Return ``(campaign, matched term)`` for each campaign the text names at ``at``."""
        active = [c for c in self.settings.campaigns if c.covers(at)]
        if not active:
            return []  # nothing to compare: the text need not be normalized
        norm = normalize(text)
        found = []
        for c in active:
            for term, pattern in self._patterns[c.name]:
                if pattern.search(norm):
                    found.append((c.name, term))
                    break
        return found

    @hookimpl
    def batch_committed(self, interactions: list[StoredInteraction], ctx: EventContext) -> None:
        """Link the batch's messages to campaigns, then judge each hour it touched once.

        Set-based: a constant number of queries per batch (IN-lists in chunks); the hours
        are counted by one grouped query per kind of scope (see :func:`stats.judge_hours`).
        """
        plugin = self.configured(ctx)
        import sqlalchemy as sa

        from scrm.plugin.db import Interaction, chunks
        from scrm.plugins import marketing_stats as stats
        from scrm.plugins.tables.marketing import CampaignLink

        ids = [i.id for i in interactions if i.direction.value == "inbound"]
        if not ids:
            return
        sp = plugin.settings.spikes
        with plugin.session(ctx) as s:
            rows: list[tuple[int, str, datetime, str | None]] = []
            linked: set[tuple[str, int]] = set()
            for part in chunks(ids):
                rows += [
                    (iid, text, at, sentiment)
                    for iid, text, at, sentiment in s.execute(
                        sa.select(
                            Interaction.id,
                            Interaction.text,
                            Interaction.created_at,
                            Interaction.sentiment,
                        ).where(Interaction.id.in_(part))
                    )
                ]
                if plugin.settings.campaigns:
                    linked.update(
                        (campaign, iid)
                        for campaign, iid in s.execute(
                            sa.select(CampaignLink.campaign, CampaignLink.interaction_id).where(
                                CampaignLink.interaction_id.in_(part)
                            )
                        )
                    )
            rows.sort(key=lambda r: (r[2], r[0]))  # by time, as the hours are judged
            latest: dict[tuple[str, str, datetime], datetime] = {}
            for iid, text, created_at, sentiment in rows:
                scopes = ["brand"]
                for name, term in plugin.match(text, created_at):
                    scopes.append(f"campaign:{name}")
                    if (name, iid) not in linked:
                        s.add(CampaignLink(campaign=name, interaction_id=iid, matched=term[:255]))
                        linked.add((name, iid))
                hour = created_at.replace(minute=0, second=0, microsecond=0)
                for scope in scopes:
                    for metric in sp.metrics:
                        if metric != "negative" or sentiment == "negative":
                            latest[(scope, metric, hour)] = created_at
            s.flush()
            spikes = stats.judge_hours(
                s,
                list(latest),
                window_hours=sp.window_hours,
                alpha=sp.alpha,
                min_count=sp.min_count,
                min_baseline=sp.min_baseline,
                history_start=plugin._history_start,
            )
        for spike in spikes:
            ctx.emit(
                SpikeDetected(
                    scope=spike.scope,
                    metric=spike.metric,
                    hour=spike.hour,
                    count=spike.count,
                    baseline=spike.baseline,
                    p_value=spike.p_value,
                )
            )

    @hookimpl
    def register_migrations(self, register: Callable[..., None]) -> None:
        register("scrm.plugins:migrations/marketing", models="scrm.plugins.tables.marketing")

    @hookimpl
    def register_report_dimensions(self, register: Callable[[Dimension], None]) -> None:
        from scrm.plugin.db import Dimension

        register(Dimension("campaign", _campaign_of_case))

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        from scrm.plugin.cli import add_lazy_command

        def campaigns() -> click.Command:
            from scrm.plugins.commands.marketing import campaigns_group

            return campaigns_group(self)

        def advocates() -> click.Command:
            from scrm.plugins.commands.marketing import advocates_command

            return advocates_command()

        add_lazy_command(
            cli, "campaigns", "Marketing campaigns: linked mentions, reports, spikes.", campaigns
        )
        add_lazy_command(
            cli,
            "advocates",
            "List brand advocates: customers with repeated praise, weighted by their reach.",
            advocates,
        )


def _campaign_of_case() -> Any:
    """A case's campaign, for ``scrm report --by campaign``: a case can touch several; it
    counts once, under the alphabetically first campaign any of its messages was linked to,
    so that the slices add up to the total."""
    import sqlalchemy as sa
    from sqlalchemy.orm import aliased

    from scrm.plugin.db import Case, Interaction
    from scrm.plugins.tables.marketing import CampaignLink

    linked = aliased(Interaction)
    return (
        sa.select(sa.func.min(CampaignLink.campaign))
        .join(linked, linked.id == CampaignLink.interaction_id)
        .where(linked.case_id == Case.id)
        .scalar_subquery()
    )


def _utc(value: datetime | None) -> datetime | None:
    from datetime import UTC

    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC) + timedelta(0)


plugin = MarketingPlugin()
"""The registered plugin (``DEFAULT_PLUGINS``); it reads each application's settings."""
