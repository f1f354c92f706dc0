"""R&D: product ideas clustered across languages, and complaint trends that need a fix.

Every stored inbound message of kind ``idea`` joins the most similar open idea seen within
``window`` if the similarity (see :mod:`scrm.plugins.rnd_text`) reaches ``threshold``, else it
founds a new idea.  An idea counts the *distinct* customers who asked and links every source.

``scrm insights`` lists complaint categories and phrases (word pairs) whose volume grows.
Rule: with ``c`` complaints in the last ``period`` and ``p`` in the period before it, an item
grows when ``c >= min_count``, ``c > p`` and the Poisson upper tail ``P(X >= c | max(p, 0.5))``
is at most ``alpha`` (0.05 by default): as many complaints would rarely come by chance if the
rate had stayed what it was.

Configuration (``[plugins.rnd]``)::

    threshold = 0.5
    window = "P365D"
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from scrm.plugin import Kind, StoredInteraction, hookimpl, tokenize
from scrm.plugins.department import DepartmentPlugin
from scrm.plugins.rnd_text import STOPWORDS, signature, similarity

if TYPE_CHECKING:
    import click

    from scrm.plugin import EventContext
    from scrm.plugins.tables.rnd import Idea

__all__ = ["RndPlugin", "RndSettings", "growing_complaints", "plugin"]


class RndSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: float = Field(default=0.5, gt=0, le=1, description="Similarity to join an idea.")
    window: timedelta = Field(default=timedelta(days=365), description="How old an idea may be.")
    insights_alpha: float = Field(default=0.05, gt=0, lt=1)
    insights_min_count: int = Field(default=3, ge=1)


class RndPlugin(DepartmentPlugin):
    name = "rnd"
    Settings = RndSettings
    settings: RndSettings

    @hookimpl
    def interaction_stored(self, interaction: StoredInteraction, ctx: EventContext) -> None:
        plugin = self.configured(ctx.for_brand(interaction.brand))
        import sqlalchemy as sa

        from scrm.plugin.db import Interaction
        from scrm.plugins.tables.rnd import Idea, IdeaSource

        cls = interaction.classification
        if cls is None or cls.kind is not Kind.IDEA:
            return
        with plugin.session(ctx) as s:
            it = s.get(Interaction, interaction.id)
            if it is None or s.scalar(
                sa.select(IdeaSource.id).where(IdeaSource.interaction_id == it.id)
            ):
                return
            sig = signature(it.text)
            best: tuple[float, Idea | None] = (0.0, None)
            idea: Idea | None
            since = it.created_at - plugin.settings.window
            for idea in s.scalars(
                sa.select(Idea).where(Idea.status == "open", Idea.last_seen >= since)
            ):
                score = similarity(sig, list(idea.signature))
                if score > best[0]:
                    best = (score, idea)
            score, idea = best
            if idea is None or score < plugin.settings.threshold:
                idea = Idea(
                    title=it.text[:255],
                    language=it.language,
                    signature=sig,
                    status="open",
                    first_seen=it.created_at,
                    last_seen=it.created_at,
                )
                s.add(idea)
                s.flush()
                score = 1.0
            else:
                idea.last_seen = max(idea.last_seen, it.created_at)
            s.add(
                IdeaSource(
                    idea_id=idea.id,
                    interaction_id=it.id,
                    customer_id=it.customer_id,
                    similarity=score,
                    created_at=it.created_at,
                )
            )

    @hookimpl
    def register_migrations(self, register: Callable[..., None]) -> None:
        register("scrm.plugins:migrations/rnd", models="scrm.plugins.tables.rnd")

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        from scrm.plugin.cli import add_lazy_command

        def ideas() -> click.Command:
            from scrm.plugins.commands.rnd import ideas_group

            return ideas_group

        def insights() -> click.Command:
            from scrm.plugins.commands.rnd import insights_command

            return insights_command(self)

        add_lazy_command(
            cli, "ideas", "Product ideas from customers, clustered across languages.", ideas
        )
        add_lazy_command(
            cli,
            "insights",
            "List complaint categories and phrases whose volume grows (fix the cause).",
            insights,
        )


def _utc(value: datetime | None) -> datetime | None:
    from datetime import UTC

    return None if value is None else (value if value.tzinfo else value.replace(tzinfo=UTC))


def _idea_rows(s: Any, start: datetime, end: datetime, limit: int) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from scrm.plugins.tables.rnd import IdeaSource

    counts = s.execute(
        sa.select(
            IdeaSource.idea_id,
            sa.func.count(sa.distinct(IdeaSource.customer_id)),
            sa.func.count(),
        )
        .where(IdeaSource.created_at >= start, IdeaSource.created_at <= end)
        .group_by(IdeaSource.idea_id)
    ).all()
    counts.sort(key=lambda r: (-r[1], -r[2], r[0]))
    out = []
    for idea_id, _, _ in counts[:limit]:
        out.append(_idea_out(s, idea_id))
    return out


def _idea_out(s: Any, idea_id: int) -> dict[str, Any]:
    import sqlalchemy as sa

    from scrm.plugin import N_, NotFound
    from scrm.plugin.db import Interaction
    from scrm.plugins.tables.rnd import Idea, IdeaSource

    idea = s.get(Idea, idea_id)
    if idea is None:
        raise NotFound(N_("no idea %(id)s"), id=idea_id)
    sources = s.execute(
        sa.select(IdeaSource, Interaction.channel, Interaction.language, Interaction.text)
        .join(Interaction, Interaction.id == IdeaSource.interaction_id)
        .where(IdeaSource.idea_id == idea_id)
        .order_by(IdeaSource.created_at)
    ).all()
    return {
        "id": idea.id,
        "title": idea.title,
        "customers": len({src.customer_id for src, *_ in sources if src.customer_id}),
        "requests": len(sources),
        "languages": sorted({lang for _, _, lang, _ in sources if lang}),
        "first_seen": idea.first_seen,
        "last_seen": idea.last_seen,
        "signature": idea.signature,
        "sources": [
            {
                "interaction_id": src.interaction_id,
                "customer_id": src.customer_id,
                "channel": ch,
                "language": lang,
                "similarity": src.similarity,
                "text": text,
            }
            for src, ch, lang, text in sources
        ],
    }


def _phrases(text: str) -> set[str]:
    words = [w for w in tokenize(text) if w.isalpha() and len(w) > 2 and w not in STOPWORDS]
    return {f"{a} {b}" for a, b in pairwise(words)}


def growing_complaints(
    s: Any, end: datetime, period: timedelta, *, alpha: float, min_count: int
) -> list[dict[str, Any]]:
    """Categories and phrases of complaints that grow (rule in the module docstring)."""
    import sqlalchemy as sa

    from scrm.plugin.db import Interaction
    from scrm.plugins.marketing_stats import poisson_tail

    rows = s.execute(
        sa.select(Interaction.created_at, Interaction.category, Interaction.text).where(
            Interaction.direction == "inbound",
            Interaction.kind == Kind.COMPLAINT.value,
            Interaction.created_at > end - 2 * period,
            Interaction.created_at <= end,
        )
    ).all()
    cur: dict[tuple[str, str], int] = Counter()
    prev: dict[tuple[str, str], int] = Counter()
    for at, category, text in rows:
        bucket = cur if at > end - period else prev
        bucket[("category", category or "other")] += 1
        for ph in _phrases(text):
            bucket[("phrase", ph)] += 1
    out: list[dict[str, Any]] = []
    for key, c in cur.items():
        p = prev.get(key, 0)
        if c < min_count or c <= p:
            continue
        pv = poisson_tail(c, max(float(p), 0.5))
        if pv <= alpha:
            out.append({"type": key[0], "item": key[1], "previous": p, "current": c,
                        "p_value": float(f"{pv:.2e}")})  # fmt: skip
    out.sort(key=lambda f: (f["type"] != "category", f["p_value"], -f["current"]))
    return out


plugin = RndPlugin()
"""The registered plugin (``DEFAULT_PLUGINS``); it reads each application's settings."""
