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
:mod:`scrm.plugins.marketing_stats`, for its brand and for each campaign it belongs to.

Several brands (``[brands.<key>]``): each brand's messages are judged apart, with its own
``[brands.<key>.plugins.marketing]`` settings merged over these; the campaigns listed there
are the brand's own and count only its messages, while the campaigns above count every
brand's (:meth:`MarketingPlugin.for_brand`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from scrm.plugin import SpikeDetected, StoredInteraction, hookimpl, normalize
from scrm.plugins.department import DepartmentPlugin

if TYPE_CHECKING:
    import click

    from scrm.plugin import EventContext, PluginContext, Scrm
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
        # A brand's plugin with the deployment's campaigns and its own (for_brand), by the
        # id of the brand's settings.
        self._merged: dict[int, MarketingPlugin] = {}
        super().__init__(settings)

    def prepare(self) -> None:
        self._patterns = {c.name: c.patterns() for c in self.settings.campaigns}
        # Each scope's first message, per application (a copy is configured per application).
        self._history_start: dict[tuple[tuple[int | None, str], str], datetime] = {}
        #: The campaigns of :attr:`settings` that are a brand's own (:meth:`for_brand`); the
        #: others are the deployment's.
        self.own: frozenset[str] = frozenset()
        self._of: MarketingSettings | None = None

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

    def for_brand(self, ctx: PluginContext, brand: str | None) -> MarketingPlugin:
        """This plugin for the messages of brand ``brand`` (a key; None: the deployment's):
        the brand's spike rule and competitors (``[brands.<key>.plugins.marketing]`` over
        ``[plugins.marketing]``), and as campaigns the deployment's and the brand's own, those
        :attr:`own` names."""
        deployment = self.configured(ctx.for_brand(None))
        mine = self.configured(ctx.for_brand(brand)) if brand is not None else deployment
        own = _own_campaigns(deployment.settings, mine.settings)
        if not own and mine.settings.campaigns == deployment.settings.campaigns:
            return mine
        bound = self._merged.get(id(mine.settings))
        if bound is None or bound._of is not mine.settings:
            settings = mine.settings.model_copy(
                update={"campaigns": [*deployment.settings.campaigns, *own]}
            )
            bound = copy.copy(mine)
            bound.settings, bound._bound, bound._of = settings, {}, mine.settings
            bound.prepare()
            bound.own = frozenset(c.name for c in own)
            if len(self._merged) >= 8:
                self._merged.pop(next(iter(self._merged)))
            self._merged[id(mine.settings)] = bound
        return bound

    @hookimpl
    def app_started(self, app: Scrm) -> None:
        """Refuse a brand's campaign named like one of the deployment's (a campaign's name
        is its scope in the links and the spikes): one line naming it."""
        if not app.config.brands:
            return
        from scrm.plugin import ConfigError

        deployment = self.configured(app.context.for_brand(None)).settings
        mine = {c.name: c for c in deployment.campaigns}
        for key in app.config.brands:
            for i, c in enumerate(self.configured(app.context.for_brand(key)).settings.campaigns):
                if c.name in mine and c != mine[c.name]:
                    raise ConfigError(
                        f"invalid configuration: brands.{key}.plugins.marketing.campaigns.{i}: "
                        f"campaign {c.name!r} is a campaign of [plugins.marketing]: give the "
                        "brand's campaign a name of its own"
                    )

    @hookimpl
    def batch_committed(self, interactions: list[StoredInteraction], ctx: EventContext) -> None:
        """Link the batch's messages to campaigns, then judge each hour it touched once.

        Each message is matched against its brand's campaigns (:meth:`for_brand`), and each
        hour judged for its brand, for each of the brand's own campaigns and for each of the
        deployment's (over every brand's messages), with the brand's rule.  Set-based: a
        constant number of queries per batch, whatever its brands (IN-lists in chunks); the
        hours are counted by one grouped query per kind of scope (see
        :func:`stats.judge_hours`).
        """
        import sqlalchemy as sa

        from scrm.plugin.db import Interaction, chunks
        from scrm.plugins import marketing_stats as stats
        from scrm.plugins.tables.marketing import CampaignLink

        brand_of = {i.id: i.brand for i in interactions if i.direction.value == "inbound"}
        ids = list(brand_of)
        if not ids:
            return
        deployment = self.for_brand(ctx, None)
        plugins = {key: self.for_brand(ctx, key) for key in set(brand_of.values())}
        any_campaigns = any(p.settings.campaigns for p in plugins.values())
        with deployment.session(ctx) as s:
            rows: list[tuple[int, str, datetime, str | None, int]] = []
            linked: set[tuple[str, int]] = set()
            for part in chunks(ids):
                rows += [
                    (iid, text, at, sentiment, brand)
                    for iid, text, at, sentiment, brand in s.execute(
                        sa.select(
                            Interaction.id,
                            Interaction.text,
                            Interaction.created_at,
                            Interaction.sentiment,
                            Interaction.brand_id,
                        ).where(Interaction.id.in_(part))
                    )
                ]
                if any_campaigns:
                    linked.update(
                        (campaign, iid)
                        for campaign, iid in s.execute(
                            sa.select(CampaignLink.campaign, CampaignLink.interaction_id).where(
                                CampaignLink.interaction_id.in_(part)
                            )
                        )
                    )
            rows.sort(key=lambda r: (r[2], r[0]))  # by time, as the hours are judged
            rules: dict[int | None, SpikeSettings] = {None: deployment.settings.spikes}
            latest: dict[tuple[stats.Scope, str, datetime], datetime] = {}
            for iid, text, created_at, sentiment, brand in rows:
                plugin = plugins[brand_of[iid]]
                rules[brand] = plugin.settings.spikes
                scopes: list[stats.Scope] = [(brand, "brand")]
                for name, term in plugin.match(text, created_at):
                    scopes.append((brand if name in plugin.own else None, f"campaign:{name}"))
                    if (name, iid) not in linked:
                        s.add(CampaignLink(campaign=name, interaction_id=iid, matched=term[:255]))
                        linked.add((name, iid))
                hour = created_at.replace(minute=0, second=0, microsecond=0)
                for scope in scopes:
                    for metric in rules[scope[0]].metrics:
                        if metric != "negative" or sentiment == "negative":
                            latest[(scope, metric, hour)] = created_at
            s.flush()
            spikes = stats.judge_hours(
                s, list(latest), rules, history_start=deployment._history_start
            )
            key_of = {brand: brand_of[iid] for iid, _, _, _, brand in rows}
        for spike in spikes:
            ctx.emit(
                SpikeDetected(
                    scope=spike.scope,
                    metric=spike.metric,
                    hour=spike.hour,
                    count=spike.count,
                    baseline=spike.baseline,
                    p_value=spike.p_value,
                    brand=key_of.get(spike.brand) if spike.brand is not None else None,
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


def _own_campaigns(deployment: MarketingSettings, brand: MarketingSettings) -> list[Campaign]:
    """The campaigns of a brand's settings that are not the deployment's (by name)."""
    names = {c.name for c in deployment.campaigns}
    return [c for c in brand.campaigns if c.name not in names]


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
