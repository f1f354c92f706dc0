"""The built-in router: which department owns a message, how urgent it is, which pool works it.

Rules from ``[[plugins.router.rules]]`` are tried in order; the first whose conditions all
hold decides what it sets (department, priority, pool) and the defaults decide the rest.
Defaults: complaints and questions go to support, leads to sales, ideas to R&D, praise to
marketing; spam opens no case (it is kept and auditable, never deleted).  Messages of kind
"other" open a support case when written to the brand privately (someone is waiting for
an answer) and no case when they are public chatter.  A complaint flagged ``suspected_spam``
(complaint cues in what reads as a scam or a promotion) goes to triage, where a person
decides.

Priority is one standard for every channel: it comes from what was said, who said it and
how far it can reach, never from the channel alone, so the same complaint by phone, e-mail,
Facebook or Twitter/X gets the same priority (and so the same SLA deadlines).  Legal or
safety threats are urgent; churn threats, customers with the configured attributes (VIP),
authors with at least ``reach_followers`` followers, and (when configured) very negative
messages are high; praise, ideas and other messages low; the rest normal.  A playbook can
raise its category's priority.  A complaint or question goes to the department of its
category's playbook; a category of a sector pack (``[plugins.classifier] sectors``) without a
playbook of its own name goes to the department and gets the least priority the pack gives
it, or those of the playbook the pack names for it.  A deployment that wants a channel
served differently says so with a rule (``match = { channel = [...] }`` or
``{ public = true }``)::

    [plugins.router.priority]
    reach_followers = 10000          # 0 ignores the audience
    customer = { vip = true }        # customer attributes that make a case high; {} none
    negative_sentiment = -0.9        # unset by default

Example::

    [[plugins.router.rules]]
    name = "gold customers"
    match = { kind = ["complaint", "question"], customer = { tier = "gold" } }
    priority = "high"
    pool = "senior"

    [[plugins.router.rules]]
    name = "kvkk"
    match = { keywords = ["kvkk", "gdpr", "kişisel veri"] }
    department = "support"
    priority = "urgent"
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, model_validator

from scrm.plugin import (
    N_,
    Author,
    Classification,
    CustomerInfo,
    Engagement,
    InboundInteraction,
    Kind,
    NotFound,
    PlaybookSet,
    Priority,
    RouteDecision,
    hookimpl,
    normalize,
)
from scrm.plugins.classifier import SUSPECTED_SPAM
from scrm.plugins.taxonomy import Taxonomy, configured_topics, load_taxonomy, playbook_for

if TYPE_CHECKING:
    import click

    from scrm.plugin import PluginContext

__all__ = [
    "DefaultRouter",
    "Match",
    "PrioritySettings",
    "RouterPlugin",
    "RouterSettings",
    "Rule",
    "plugin",
    "priority_for",
]

KIND_DEPARTMENT: dict[Kind, str | None] = {
    Kind.COMPLAINT: "support",
    Kind.QUESTION: "support",
    Kind.LEAD: "sales",
    Kind.IDEA: "rnd",
    Kind.PRAISE: "marketing",
    Kind.SPAM: None,
}


class Match(BaseModel):
    """Conditions of a rule; every one given must hold (lists: any of their values)."""

    model_config = ConfigDict(extra="forbid")

    kind: list[Kind] | None = None
    category: list[str] | None = None
    channel: list[str] | None = None
    language: list[str] | None = None
    urgency: list[str] | None = Field(default=None, description="Any of these flags.")
    keywords: list[str] | None = Field(
        default=None,
        description="Any of these words or phrases (Turkish-aware, diacritics optional).",
    )
    customer: dict[str, Any] | None = Field(
        default=None, description="Customer attributes that must be equal, e.g. tier = 'gold'."
    )
    min_followers: int | None = None
    public: bool | None = None


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    match: Match = Field(default_factory=Match)
    department: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,31}$")
    no_case: bool = Field(default=False, description="Keep the message but open no case.")
    priority: Priority | None = None
    pool: str | None = None


class PrioritySettings(BaseModel):
    """What raises a message above normal besides its urgency flags; the same on every channel."""

    model_config = ConfigDict(extra="forbid")

    reach_followers: int = Field(
        default=10_000,
        ge=0,
        description="A complaint or question whose author has at least this many followers is "
        "high (a large audience, on whichever channel it is known); 0: audience ignored.",
    )
    customer: dict[str, Any] = Field(
        default_factory=lambda: {"vip": True},
        description="Customer attributes (all equal) that make a complaint or question high; "
        "{}: none.",
    )
    negative_sentiment: float | None = Field(
        default=None,
        ge=-1.0,
        le=0.0,
        description="A complaint whose sentiment score is at or below this is high; unset: off.",
    )


class RouterSettings(BaseModel):
    """``[plugins.router]``; validated with the configuration as context, it also loads the
    playbooks and the taxonomy ``[plugins.classifier]`` selects (a bad one stops every command)."""

    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(default_factory=list)
    priority: PrioritySettings = Field(default_factory=PrioritySettings)
    kinds: dict[Kind, str | None] = Field(
        default_factory=dict, description="Override the default department per kind."
    )
    _router: DefaultRouter | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _build(self, info: ValidationInfo) -> RouterSettings:
        topics = configured_topics(info)
        if topics is not None:
            self._router = DefaultRouter(self, *topics)
        return self

    @property
    def router(self) -> DefaultRouter:
        """The router these settings describe (with the default taxonomy when validated
        without a configuration)."""
        if self._router is None:
            self._router = DefaultRouter(self)
        return self._router


def priority_for(
    classification: Classification,
    *,
    followers: int | None = None,
    customer: CustomerInfo | None = None,
    settings: PrioritySettings | None = None,
) -> tuple[Priority, str]:
    """Return the priority a message deserves, and why: from its content, its author's
    audience and the customer, never from its channel.

    The ``public`` urgency flag does not count: the classifier sets it for any negative
    public post, so counting it would serve social customers first.  A public post's risk
    is its audience, which ``reach_followers`` measures.
    """
    s = settings or PrioritySettings()
    c = classification
    flags = set(c.urgency)
    if flags & {"legal", "safety"}:
        return Priority.URGENT, "legal or safety threat"
    if "churn" in flags:
        return Priority.HIGH, "churn threat"
    if c.kind in (Kind.COMPLAINT, Kind.QUESTION):
        attrs = customer.attributes if customer else {}
        if s.customer and all(attrs.get(k) == v for k, v in s.customer.items()):
            return Priority.HIGH, f"customer {s.customer}"
        if s.reach_followers and (followers or 0) >= s.reach_followers:
            return Priority.HIGH, f"audience of {followers} followers >= {s.reach_followers}"
    if (
        c.kind is Kind.COMPLAINT
        and s.negative_sentiment is not None
        and c.sentiment_score <= s.negative_sentiment
    ):
        return Priority.HIGH, f"sentiment {c.sentiment_score} <= {s.negative_sentiment}"
    if c.kind in (Kind.PRAISE, Kind.IDEA, Kind.OTHER):
        return Priority.LOW, f"{c.kind.value}"
    return Priority.NORMAL, "default"


@dataclass(frozen=True)
class Check:
    """How one rule fared against one message, for ``scrm route explain``."""

    rule: str
    matched: bool
    why: str


def _check(
    rule: Rule, it: InboundInteraction, c: Classification, customer: CustomerInfo | None
) -> Check:
    m = rule.match
    tests: list[tuple[bool, str]] = []
    if m.kind is not None:
        tests.append((c.kind in m.kind, f"kind {c.kind.value} in {[k.value for k in m.kind]}"))
    if m.category is not None:
        tests.append((c.category in m.category, f"category {c.category} in {m.category}"))
    if m.channel is not None:
        tests.append((it.channel in m.channel, f"channel {it.channel} in {m.channel}"))
    if m.language is not None:
        tests.append((c.language in m.language, f"language {c.language} in {m.language}"))
    if m.urgency is not None:
        tests.append(
            (
                bool(set(c.urgency) & set(m.urgency)),
                f"urgency {list(c.urgency)} has any of {m.urgency}",
            )
        )
    if m.keywords is not None:
        text = f" {normalize(it.text)} "
        hits = [
            k
            for k in m.keywords
            if f" {normalize(k)} " in text or (len(k) > 4 and normalize(k) in text)
        ]
        tests.append((bool(hits), f"keywords {hits or 'none'} of {m.keywords}"))
    if m.customer is not None:
        attrs = customer.attributes if customer else {}
        ok = all(attrs.get(k) == v for k, v in m.customer.items())
        tests.append(
            (ok, f"customer {m.customer} (has { ({k: attrs.get(k) for k in m.customer}) })")
        )
    if m.min_followers is not None:
        f = it.author.followers or 0
        tests.append((f >= m.min_followers, f"followers {f} >= {m.min_followers}"))
    if m.public is not None:
        tests.append((it.public == m.public, f"public is {it.public}"))
    failed = [why for ok, why in tests if not ok]
    if failed:
        return Check(rule.name, False, "no: " + "; ".join(failed))
    return Check(rule.name, True, "yes: " + ("; ".join(why for _, why in tests) or "no conditions"))


class DefaultRouter:
    """The built-in ``route_interaction`` answer, registered ``trylast``."""

    def __init__(
        self,
        settings: RouterSettings | None = None,
        playbooks: PlaybookSet | None = None,
        taxonomy: Taxonomy | None = None,
    ) -> None:
        self.settings = settings or RouterSettings()
        self.playbooks = playbooks
        self.taxonomy = taxonomy if taxonomy is not None else load_taxonomy()
        self.kind_department = {**KIND_DEPARTMENT, **self.settings.kinds}

    def explain(
        self,
        interaction: InboundInteraction,
        classification: Classification,
        customer: CustomerInfo | None = None,
    ) -> tuple[RouteDecision, list[Check]]:
        """Route and say why: every rule tried, in order, with the conditions that held or failed."""
        checks = []
        chosen: Rule | None = None
        for rule in self.settings.rules:
            check = _check(rule, interaction, classification, customer)
            checks.append(check)
            if check.matched:
                chosen = rule
                break
        return self._decide(interaction, classification, customer, chosen), checks

    def _decide(
        self,
        it: InboundInteraction,
        c: Classification,
        customer: CustomerInfo | None,
        rule: Rule | None,
    ) -> RouteDecision:
        department: str | None
        if c.kind is Kind.OTHER:
            # A person wrote and no rule knows what it is: someone must look (triage), or
            # for a private message, support.
            department = "triage" if it.public else "support"
            why = (
                "public message of no recognised kind"
                if it.public
                else "private message to the brand"
            )
        else:
            department = self.kind_department.get(c.kind, "support")
            why = f"kind {c.kind.value}"
        if SUSPECTED_SPAM in c.urgency:
            # Complaint cues in a message that reads as a scam or a promotion: a person decides,
            # in triage, whether a customer wrote it; nothing is dropped (a rule can send it on).
            department, why = "triage", f"kind {c.kind.value}; {SUSPECTED_SPAM}"
        priority, pwhy = priority_for(
            c, followers=it.author.followers, customer=customer, settings=self.settings.priority
        )
        if c.kind in (Kind.COMPLAINT, Kind.QUESTION) and SUSPECTED_SPAM not in c.urgency:
            # The category's written guide names its owner and the least priority it deserves;
            # a category of a sector pack without a playbook of its own name says them itself.
            book = playbook_for(c.category, self.taxonomy, self.playbooks)
            cat = self.taxonomy.categories.get(c.category)
            least: Priority | None = None
            if book is not None and book.category == c.category:
                department, why = book.department, f"{why}; playbook {book.category}"
                least, lwhy = Priority(book.priority), f"playbook {book.category}"
            elif cat is not None and (cat.department or book is not None):
                department = cat.department or book.department
                why = f"{why}; category {c.category} of taxonomy {self.taxonomy.name or '-'}" + (
                    f", playbook {book.category}" if book is not None else ""
                )
                if cat.priority or book is not None:
                    least = Priority(cat.priority or book.priority)
                    lwhy = f"category {c.category}" + (
                        "" if cat.priority else f", playbook {book.category}"
                    )
            if least is not None and least.rank > priority.rank:
                priority, pwhy = least, lwhy
        pool = None
        name = f"default:{c.kind.value}"
        if rule is not None:
            name = rule.name
            if rule.no_case:
                department, why = None, f"rule {rule.name!r}: no case"
            elif rule.department:
                department, why = rule.department, f"rule {rule.name!r}"
            if rule.priority is not None:
                priority, pwhy = rule.priority, f"rule {rule.name!r}"
            pool = rule.pool
        return RouteDecision(
            department=department,
            priority=priority,
            pool=pool,
            rule=name,
            reason=f"{why} -> {department or 'no case'}; priority {priority.value}: {pwhy}"
            + (f"; pool {pool}" if pool else ""),
        )

def stored_interaction(
    app: Any, interaction_id: int
) -> tuple[InboundInteraction, CustomerInfo | None, str]:
    """Rebuild a stored interaction as the router saw it.

    :returns: the interaction, its customer, and the key of its brand.
    """
    from scrm.plugin.db import Customer, Identity, Interaction

    with app.session() as s:
        row = s.get(Interaction, interaction_id)
        if row is None:
            raise NotFound(N_("no interaction %(id)s"), id=interaction_id)
        brand_id = row.brand_id
        ident = s.get(Identity, row.identity_id) if row.identity_id else None
        cust = s.get(Customer, row.customer_id) if row.customer_id else None
        author = Author(
            external_id=ident.external_id if ident else "unknown",
            handle=ident.handle if ident else None,
            followers=ident.followers if ident else None,
            verified=ident.verified if ident else None,
        )
        it = InboundInteraction(
            channel=row.channel,
            external_id=row.external_id,
            text=row.text,
            created_at=row.created_at,
            author=author,
            public=row.public,
            language=row.language,
            subject=row.subject,
            thread_key=row.thread_key,
            in_reply_to=row.in_reply_to,
            account=row.account,
            engagement=Engagement.model_validate(row.engagement) if row.engagement else None,
        )
        info = (
            CustomerInfo(id=cust.id, display_name=cust.display_name, attributes=cust.attributes)
            if cust
            else None
        )
    return it, info, app.brands.key_of(brand_id) or "default"


def _first_answer(
    hooks: Any, it: InboundInteraction, c: Classification, customer: CustomerInfo | None
) -> tuple[str, RouteDecision]:
    """Call route_interaction implementations in pluggy's order; return who answered first
    (kept to the brand's departments, as the pipeline keeps it)."""
    args = {"interaction": it, "classification": c, "customer": customer, "ctx": hooks.ctx}
    for impl in reversed(hooks.pm.hook.route_interaction.get_hookimpls()):
        result = impl.function(**{k: args[k] for k in impl.argnames})
        if result is not None:
            return impl.plugin_name, hooks.within_departments(result)
    return "none", hooks.route(it, c, customer)


class RouterPlugin:
    """The built-in router: ``route_interaction`` (trylast) and ``scrm route explain``."""

    Settings = RouterSettings

    @hookimpl(trylast=True)
    def route_interaction(
        self,
        interaction: InboundInteraction,
        classification: Classification,
        customer: CustomerInfo | None,
        ctx: PluginContext,
    ) -> RouteDecision:
        router = ctx.plugin_config("router").router
        return router.explain(interaction, classification, customer)[0]

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        import click

        from scrm.plugin.cli import CommandError

        @cli.group("route")
        def route_group() -> None:
            """Routing: which department owns a message, and why."""

        @route_group.command("explain")
        @click.argument("interaction_id", type=int)
        @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
        @click.pass_obj
        def explain(obj: Any, interaction_id: int, as_json: bool) -> None:
            """Show how INTERACTION_ID is classified and routed, rule by rule."""
            app = obj.app()
            if app.interaction(interaction_id).direction == "outbound":
                raise CommandError(
                    f"interaction {interaction_id} is the brand's own message: it is not routed"
                )
            it, customer, brand = stored_interaction(app, interaction_id)
            hooks = app.hooks.for_brand(brand)  # the brand's taxonomy, rules and departments
            classification = hooks.classify(it)
            answered_by, decision = _first_answer(hooks, it, classification, customer)
            router = hooks.ctx.plugin_config("router").router
            _, checks = router.explain(it, classification, customer)
            if as_json:
                click.echo(
                    json.dumps(
                        {
                            "interaction": interaction_id,
                            "classification": classification.model_dump(mode="json"),
                            "answered_by": answered_by,
                            "decision": decision.model_dump(mode="json"),
                            "rules": [c.__dict__ for c in checks],
                        },
                        ensure_ascii=False,
                    )
                )
                return
            click.echo(
                f"interaction {interaction_id} ({it.channel}, {'public' if it.public else 'private'}): {it.text[:120]}"
            )
            click.echo(
                f"classified: {classification.kind.value}/{classification.category}, {classification.sentiment}, "
                f"language {classification.language}, urgency {list(classification.urgency) or '-'}"
            )
            for c in checks:
                click.echo(f"  rule {c.rule!r}: {c.why}")
            if not checks:
                click.echo("  (no routing rules configured; defaults apply)")
            click.echo(
                f"decided by plugin {answered_by!r}, rule {decision.rule!r}: {decision.reason}"
            )


plugin = RouterPlugin()
"""The registered plugin (``DEFAULT_PLUGINS``); it reads each application's settings."""
