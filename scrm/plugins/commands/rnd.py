"""``scrm ideas`` and ``scrm insights``: the R&D plugin's commands, imported when they run.

Kept apart from :mod:`scrm.plugins.rnd` so that an application opened with
:func:`scrm.open` loads no command-line code.
"""

from __future__ import annotations

from datetime import datetime

import click

from scrm.plugin.cli import CliContext, emit, parse_since, table
from scrm.plugins.department import reference_time
from scrm.plugins.rnd import RndPlugin, _idea_out, _idea_rows, _utc, growing_complaints


@click.group("ideas")
def ideas_group() -> None:
    """Product ideas from customers, clustered across languages."""


@ideas_group.command("top")
@click.option("--since", default="90d", show_default=True, help="Window, e.g. 90d, 2w.")
@click.option("--until", type=click.DateTime(), help="End (default: newest message).")
@click.option("--limit", type=int, default=20, show_default=True, help="At most this many ideas.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def top(obj: CliContext, since: str, until: datetime | None, limit: int, as_json: bool) -> None:
    """List the ideas most customers asked for in the window."""
    span = parse_since(since)
    with obj.app().session() as s:
        end = reference_time(s, _utc(until))
        items = _idea_rows(s, end - span, end, limit)
    if as_json:
        emit(items)
        return
    rows = [(i["id"], i["customers"], i["requests"], ",".join(i["languages"]),
             obj.time(i["last_seen"]), " ".join(str(x["interaction_id"]) for x in i["sources"]),
             i["title"][:70]) for i in items]  # fmt: skip
    cols = ["idea", "customers", "requests", "languages", "last", "sources", "first request"]
    obj.console.print(table("ideas", cols, rows, caption=obj.times_caption))


@ideas_group.command("show")
@click.argument("idea_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show(obj: CliContext, idea_id: int, as_json: bool) -> None:
    """Show an idea and every request that joined it."""
    with obj.app().session() as s:
        out = _idea_out(s, idea_id)
    if as_json:
        emit(out)
        return
    obj.console.print(
        f"[bold]idea {out['id']}[/bold]: {out['customers']} customers, {out['requests']} "
        f"requests ({', '.join(out['languages'])}); concepts: {' '.join(out['signature'])}",
        highlight=False,
    )
    rows = [(x["interaction_id"], x["customer_id"], x["channel"], x["language"], x["similarity"],
             x["text"][:90]) for x in out["sources"]]  # fmt: skip
    obj.console.print(
        table("sources", ["interaction", "customer", "channel", "lang", "sim", "text"], rows)
    )


def insights_command(plugin: RndPlugin) -> click.Command:
    """``scrm insights``, with the plugin's thresholds."""

    @click.command("insights")
    @click.option(
        "--period",
        default="7d",
        show_default=True,
        help="Compare this much time with the same before it.",
    )
    @click.option("--until", type=click.DateTime(), help="End (default: newest message).")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def insights(obj: CliContext, period: str, until: datetime | None, as_json: bool) -> None:
        """List complaint categories and phrases whose volume grows (fix the cause)."""
        span = parse_since(period)
        app = obj.app()
        settings = plugin.configured(app.context).settings
        with app.session() as s:
            end = reference_time(s, _utc(until))
            found = growing_complaints(
                s,
                end,
                span,
                alpha=settings.insights_alpha,
                min_count=settings.insights_min_count,
            )
        if as_json:
            emit(found)
            return
        rows = [(f["type"], f["item"], f["previous"], f["current"], f["p_value"])
                for f in found]  # fmt: skip
        cols = ["type", "category / phrase", "previous", "current", "p"]
        obj.console.print(
            table(f"growing complaints, last {period} vs the {period} before", cols, rows)
        )

    return insights
