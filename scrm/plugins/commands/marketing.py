"""``scrm campaigns`` and ``scrm advocates``: the marketing plugin's commands.

Imported by its ``register_commands``, apart from :mod:`scrm.plugins.marketing`, so that an
application opened with :func:`scrm.open` loads no command-line code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
import sqlalchemy as sa

from scrm.plugin.cli import CliContext, emit, parse_since, table
from scrm.plugins import marketing_stats as stats
from scrm.plugins.department import reference_time
from scrm.plugins.marketing import MarketingPlugin, _utc
from scrm.plugins.tables.marketing import CampaignLink

__all__ = ["advocates_command", "campaigns_group"]


def campaigns_group(plugin: MarketingPlugin) -> click.Group:
    @click.group("campaigns")
    def campaigns() -> None:
        """Marketing campaigns: linked mentions, reports, spikes."""

    @campaigns.command("list")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def list_(obj: CliContext, as_json: bool) -> None:
        """List the configured campaigns with their linked mentions and spikes."""
        from scrm.plugins.tables.marketing import SpikeEpisode

        out: list[dict[str, Any]] = []
        app = obj.app()
        with app.session() as s:
            for c in plugin.configured(app.context).settings.campaigns:
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
        app = obj.app()
        configured = plugin.configured(app.context)
        c = configured.campaign(name)
        with app.session() as s:
            data = stats.campaign_report(
                s,
                c.name,
                by=by,
                zone=configured.zone,
                window=(c.start, c.end),
                competitors=configured.settings.competitors,
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
        from scrm.plugins.tables.marketing import SpikeEpisode

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
