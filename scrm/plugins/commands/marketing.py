"""``scrm campaigns`` and ``scrm advocates``: the marketing plugin's commands.

Imported by its ``register_commands``, apart from :mod:`scrm.plugins.marketing`, so that an
application opened with :func:`scrm.open` loads no command-line code.

``scrm --brand KEY`` limits them to one brand's figures (its session sees its rows only: its
messages, links, spikes and customers); without it they cover every brand.  A deployment that
declares brands (``[brands.<key>]``) names each record's brand, as ``scrm cases list`` does:
``brand`` is its key, or null for the deployment's own campaigns and their spikes.  A
deployment of one brand prints what it always did.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click
import sqlalchemy as sa

from scrm.plugin import N_, NotFound
from scrm.plugin.cli import CliContext, CommandError, emit, parse_since, table
from scrm.plugin.db import Interaction
from scrm.plugins import marketing_stats as stats
from scrm.plugins.department import reference_time
from scrm.plugins.marketing import Campaign, MarketingPlugin, _utc
from scrm.plugins.tables.marketing import CampaignLink, SpikeEpisode

if TYPE_CHECKING:
    from scrm.plugin import Scrm

__all__ = ["advocates_command", "campaigns_group"]


def _named(app: Scrm) -> bool:
    """Whether records name their brand: the deployment declares brands."""
    return bool(app.config.brands)


def _campaigns(app: Scrm, plugin: MarketingPlugin) -> list[tuple[str | None, Campaign]]:
    """The campaigns the caller sees, each with the key of the brand that owns it (None: the
    deployment's): a brand's caller, the deployment's and its own; else every brand's."""
    if app.brand_id is not None:
        key = app.brands.key_of(app.brand_id)
        mine = plugin.for_brand(app.context, key)
        return [(key if c.name in mine.own else None, c) for c in mine.settings.campaigns]
    deployment = plugin.for_brand(app.context, None)
    out: list[tuple[str | None, Campaign]] = [(None, c) for c in deployment.settings.campaigns]
    for key in app.config.brands:
        mine = plugin.for_brand(app.context, key)
        out += [(key, c) for c in mine.settings.campaigns if c.name in mine.own]
    return out


def _campaign(app: Scrm, plugin: MarketingPlugin, name: str) -> tuple[str | None, Campaign]:
    """The campaign ``name`` the caller sees, with its brand's key (None: the deployment's).

    :raises NotFound: naming the campaigns there are.
    :raises CommandError: when several brands have a campaign of that name.
    """
    seen = _campaigns(app, plugin)
    found = [(key, c) for key, c in seen if c.name == name]
    if not found:
        known = ", ".join(sorted({c.name for _, c in seen})) or "none configured"
        raise NotFound(N_("no campaign %(name)r; campaigns: %(known)s"), name=name, known=known)
    if len(found) > 1:
        brands = ", ".join(str(key) for key, _ in found)
        raise CommandError(
            f"brands {brands} each have a campaign {name!r}: choose one with scrm --brand KEY"
        )
    return found[0]


def campaigns_group(plugin: MarketingPlugin) -> click.Group:
    @click.group("campaigns")
    def campaigns() -> None:
        """Marketing campaigns: linked mentions, reports, spikes."""

    @campaigns.command("list")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def list_(obj: CliContext, as_json: bool) -> None:
        """List the configured campaigns with their linked mentions and spikes (a brand's
        own campaign counts its messages; the deployment's, every brand's)."""
        out: list[dict[str, Any]] = []
        app = obj.app()
        named = _named(app)
        brands = app.brands  # read before the session: it may write the brands' rows
        with app.session() as s:
            for key, c in _campaigns(app, plugin):
                brand = brands.id_of(key) if key is not None else None
                links = (
                    sa.select(sa.func.count())
                    .select_from(CampaignLink)
                    .where(CampaignLink.campaign == c.name)
                )
                if brand is not None:
                    links = links.join(
                        Interaction, Interaction.id == CampaignLink.interaction_id
                    ).where(Interaction.brand_id == brand)
                spikes = s.scalar(
                    sa.select(sa.func.count())
                    .select_from(SpikeEpisode)
                    .where(
                        SpikeEpisode.scope == f"campaign:{c.name}",
                        SpikeEpisode.brand_id == brand,
                    )
                )
                terms = sorted({t for ts in c.terms.values() for t in ts})
                out.append(
                    {
                        "name": c.name,
                        "start": c.start,
                        "end": c.end,
                        "terms": terms,
                        "mentions": s.scalar(links),
                        "spikes": spikes,
                        **({"brand": key} if named else {}),
                    }
                )
        if as_json:
            emit(out)
            return
        rows = [
            ((c["brand"] or "",) if named else ()) + (c["name"], obj.time(c["start"]),
             obj.time(c["end"]), ", ".join(c["terms"]), c["mentions"], c["spikes"])
            for c in out
        ]  # fmt: skip
        columns = ["name", "start", "end", "terms", "mentions", "spikes"]
        obj.console.print(
            table(
                "campaigns",
                ["brand", *columns] if named else columns,
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
        """Report a campaign: volume and sentiment, complaints, advocates, share of voice.

        A brand's own campaign counts its messages, against its competitors, in its time
        zone; the deployment's counts every brand's the caller sees."""
        app = obj.app()
        key, c = _campaign(app, plugin, name)
        owner = app.for_brand(key) if key is not None else app
        configured = plugin.for_brand(app.context, key)
        with app.session() as s:
            data = stats.campaign_report(
                s,
                c.name,
                by=by,
                zone=ZoneInfo(owner.timezone),
                window=(c.start, c.end),
                competitors=configured.settings.competitors,
                brand=owner.brand_id,
            )
        if _named(app):
            data["brand"] = key
        if as_json:
            emit(data)
            return
        _render_report(obj, data)

    @campaigns.command("spikes")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def spikes(obj: CliContext, as_json: bool) -> None:
        """List the spikes detected (each brand's mentions and campaigns, the deployment's
        campaigns), newest first."""
        app = obj.app()
        named = _named(app)
        brands = app.brands  # read before the session: it may write the brands' rows
        with app.session() as s:
            eps = s.scalars(
                sa.select(SpikeEpisode).order_by(SpikeEpisode.started_at.desc(), SpikeEpisode.id)
            )
            out = [
                {
                    "scope": e.scope,
                    "metric": e.metric,
                    "started_at": e.started_at,
                    "last_hour": e.last_hour,
                    "peak": e.peak_count,
                    "baseline": e.baseline,
                    "p_value": e.p_value,
                    **({"brand": brands.key_of(e.brand_id)} if named else {}),
                }
                for e in eps
            ]
        if as_json:
            emit(out)
            return
        rows = [
            ((e["brand"] or "",) if named else ()) + (e["scope"], e["metric"],
             obj.time(e["started_at"]), obj.time(e["last_hour"]), e["peak"], e["baseline"],
             f"{e['p_value']:.2e}")
            for e in out
        ]  # fmt: skip
        columns = ["scope", "metric", "from", "to", "peak/h", "baseline/h", "p"]
        obj.console.print(
            table(
                "spikes",
                ["brand", *columns] if named else columns,
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


def advocates_command() -> click.Command:
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
        app = obj.app()
        named = _named(app)
        with app.session() as s:
            end = reference_time(s, _utc(until))
            found = stats.advocates(s, end - span, end, min_praise=min_praise, limit=limit)
        for a in found:
            brand = a.pop("brand_id")
            if named:
                a["brand"] = app.brands.key_of(brand)
        if as_json:
            emit(found)
            return
        rows = [
            ((a["brand"],) if named else ()) + (a["customer_id"], a["name"], a["praise"],
             a["followers"], a["score"], obj.time(a["last"]))
            for a in found
        ]  # fmt: skip
        columns = ["customer", "name", "praise", "followers", "score", "last"]
        obj.console.print(
            table(
                "advocates",
                ["brand", *columns] if named else columns,
                rows,
                caption=obj.times_caption,
            )
        )

    return advocates
