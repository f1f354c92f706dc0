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
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import click
import sqlalchemy as sa
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from scrm.cli.context import CliContext, emit, table
from scrm.core.config import Config
from scrm.core.db import chunks
from scrm.core.department_models import CampaignLink
from scrm.core.dispatch import EventContext
from scrm.core.events import SpikeDetected
from scrm.core.hookspecs import hookimpl
from scrm.core.models import Interaction
from scrm.core.schemas import StoredInteraction
from scrm.core.text import normalize
from scrm.plugins import marketing_stats as stats
from scrm.plugins.department import DepartmentPlugin, load_settings, parse_since, reference_time

__all__ = ["Campaign", "MarketingPlugin", "MarketingSettings", "plugin"]


class Campaign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[\w.-]{1,128}$", description="Short name used on the CLI.")
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

    def __init__(self, settings: MarketingSettings, timezone: str) -> None:
        super().__init__()
        self.settings = settings
        self.zone = ZoneInfo(timezone)
        self._patterns = {c.name: c.patterns() for c in settings.campaigns}
        # Per database: several applications may share this plugin.
        self._history_start: dict[str, dict[tuple[str, str], datetime]] = {}

    def campaign(self, name: str) -> Campaign:
        for c in self.settings.campaigns:
            if c.name == name:
                return c
        known = ", ".join(c.name for c in self.settings.campaigns) or "none configured"
        raise click.ClickException(f"no campaign {name!r}; campaigns: {known}")

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
        ids = [i.id for i in interactions if i.direction.value == "inbound"]
        if not ids:
            return
        sp = self.settings.spikes
        with self.session(ctx) as s:
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
                if self.settings.campaigns:
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
                for name, term in self.match(text, created_at):
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
                history_start=self._history_start.setdefault(ctx.app.config.database_url, {}),
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
    def register_commands(self, cli: click.Group) -> None:
        cli.add_command(_campaigns_group(self))
        cli.add_command(_advocates_command())


def _campaigns_group(plugin: MarketingPlugin) -> click.Group:
    @click.group("campaigns")
    def campaigns() -> None:
        """Marketing campaigns: linked mentions, reports, spikes."""

    @campaigns.command("list")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def list_(obj: CliContext, as_json: bool) -> None:
        """List the configured campaigns with their linked mentions and spikes."""
        from scrm.core.department_models import SpikeEpisode

        out: list[dict[str, Any]] = []
        with obj.app().session() as s:
            for c in plugin.settings.campaigns:
                n = s.scalar(sa.select(sa.func.count()).where(CampaignLink.campaign == c.name))
                spikes = s.scalar(
                    sa.select(sa.func.count()).where(SpikeEpisode.scope == f"campaign:{c.name}")
                )
                terms = sorted({t for ts in c.terms.values() for t in ts})
                out.append(
                    {
                        "name": c.name,
                        "start": c.start,
                        "end": c.end,
                        "terms": terms,
                        "mentions": n,
                        "spikes": spikes,
                    }
                )
        if as_json:
            emit(out)
            return
        rows = [
            (c["name"], obj.time(c["start"]), obj.time(c["end"]), ", ".join(c["terms"]),
             c["mentions"], c["spikes"])
            for c in out
        ]  # fmt: skip
        obj.console.print(
            table(
                "campaigns",
                ["name", "start", "end", "terms", "mentions", "spikes"],
                rows,
                caption=obj.times_caption,
            )
        )

    @campaigns.command("report")
    @click.argument("name")
    @click.option(
        "--by",
        type=click.Choice(["hour", "day"]),
        default="day",
        show_default=True,
        help="Count per hour or per day.",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def report(obj: CliContext, name: str, by: str, as_json: bool) -> None:
        """Report a campaign: volume and sentiment, complaints, advocates, share of voice."""
        c = plugin.campaign(name)
        with obj.app().session() as s:
            data = stats.campaign_report(
                s,
                c.name,
                by=by,
                zone=plugin.zone,
                window=(c.start, c.end),
                competitors=plugin.settings.competitors,
            )
        if as_json:
            emit(data)
            return
        _render_report(obj, data)

    @campaigns.command("spikes")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def spikes(obj: CliContext, as_json: bool) -> None:
        """List the spikes detected (brand and campaigns), newest first."""
        from scrm.core.department_models import SpikeEpisode

        with obj.app().session() as s:
            eps = s.scalars(sa.select(SpikeEpisode).order_by(SpikeEpisode.started_at.desc()))
            out = [
                {
                    "scope": e.scope,
                    "metric": e.metric,
                    "started_at": e.started_at,
                    "last_hour": e.last_hour,
                    "peak": e.peak_count,
                    "baseline": e.baseline,
                    "p_value": e.p_value,
                }
                for e in eps
            ]
        if as_json:
            emit(out)
            return
        rows = [
            (e["scope"], e["metric"], obj.time(e["started_at"]), obj.time(e["last_hour"]),
             e["peak"], e["baseline"], f"{e['p_value']:.2e}")
            for e in out
        ]  # fmt: skip
        obj.console.print(
            table(
                "spikes",
                ["scope", "metric", "from", "to", "peak/h", "baseline/h", "p"],
                rows,
                caption=obj.times_caption,
            )
        )

    return campaigns


def _render_report(obj: CliContext, data: dict[str, Any]) -> None:
    out = obj.console
    out.print(f"[bold]campaign {data['campaign']}[/bold]: {data['mentions']} mentions")
    cols = ["bucket", "total", "negative", "neutral", "positive", "mean sentiment"]
    out.print(table(f"volume per {data['by']}", cols, [tuple(v.values()) for v in data["volume"]]))
    out.print(
        table(
            "top complaints",
            ["category", "count", "example"],
            [tuple(c.values()) for c in data["top_complaints"]],
        )
    )
    out.print(
        table(
            "top advocates",
            ["customer", "name", "positive", "followers", "score"],
            [tuple(a.values()) for a in data["top_advocates"]],
        )
    )
    out.print(
        table(
            "share of voice",
            ["name", "mentions", "share"],
            [(v["name"], v["mentions"], f"{v['share']:.1%}") for v in data["share_of_voice"]],
        )
    )


def _advocates_command() -> click.Command:
    @click.command("advocates")
    @click.option("--since", default="90d", show_default=True, help="Window, e.g. 30d, 12h.")
    @click.option(
        "--until", type=click.DateTime(), help="End of the window (default: newest message)."
    )
    @click.option(
        "--min-praise",
        type=int,
        default=2,
        show_default=True,
        help="Only customers with at least this many praising messages.",
    )
    @click.option(
        "--limit", type=int, default=20, show_default=True, help="At most this many customers."
    )
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def advocates(
        obj: CliContext,
        since: str,
        until: datetime | None,
        min_praise: int,
        limit: int,
        as_json: bool,
    ) -> None:
        """List brand advocates: customers with repeated praise, weighted by their reach."""
        span = parse_since(since)
        with obj.app().session() as s:
            end = reference_time(s, _utc(until))
            found = stats.advocates(s, end - span, end, min_praise=min_praise, limit=limit)
        if as_json:
            emit(found)
            return
        rows = [
            (a["customer_id"], a["name"], a["praise"], a["followers"], a["score"],
             obj.time(a["last"]))
            for a in found
        ]  # fmt: skip
        obj.console.print(
            table(
                "advocates",
                ["customer", "name", "praise", "followers", "score", "last"],
                rows,
                caption=obj.times_caption,
            )
        )

    return advocates


def _utc(value: datetime | None) -> datetime | None:
    from datetime import UTC

    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC) + timedelta(0)


def plugin(config: Config) -> MarketingPlugin:
    return MarketingPlugin(load_settings(MarketingSettings, config, "marketing"), config.timezone)
