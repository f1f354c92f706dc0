"""The built-in SLA policies: deadlines by priority, refined by rules and playbooks.

One standard for every channel: the default policies depend on the priority alone (and a
playbook's category), never on the channel, so phone, letter, fax, walk-in and e-mail
customers get the same clocks as social ones.  A deployment that wants a channel on other
clocks says so explicitly with a rule whose ``match`` names the channel (see below).  The
policy of a case is chosen in this order: the first ``[[plugins.sla.rules]]`` whose
``match`` holds (priority, channel, department, category, kind), else the priority's
policy; then the category's playbook ``[sla]`` overrides what it names.  Durations count in
business time when the policy names a calendar::

    [plugins.sla]
    warn_before = "PT30M"

    [plugins.sla.calendars.office]
    timezone = "Europe/Istanbul"
    hours = { mon = "09:00-18:00", tue = "09:00-18:00", wed = "09:00-18:00", thu = "09:00-18:00", fri = "09:00-18:00" }
    holidays = ["2024-10-29"]

    [plugins.sla.policies.normal]
    first_response = "PT4H"
    resolution = "P3D"
    calendar = "office"

    [[plugins.sla.rules]]
    name = "sales leads answer fast"
    match = { kind = ["lead"] }
    first_response = "PT1H"

    # An explicit, deliberate per-channel policy (none by default):
    [[plugins.sla.rules]]
    name = "letters by post"
    match = { channel = ["letter"] }
    first_response = "P2D"
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, model_validator

from scrm.plugin import (
    BusinessCalendar,
    CaseInfo,
    Kind,
    PlaybookSet,
    PluginContext,
    Priority,
    SlaPolicy,
    hookimpl,
)
from scrm.plugins.taxonomy import Taxonomy, configured_topics, load_taxonomy, playbook_for

__all__ = ["DEFAULT_POLICIES", "DefaultSla", "SlaPlugin", "SlaSettings", "plugin"]


class _PolicyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_response: timedelta | None = None
    follow_up: timedelta | None = None
    resolution: timedelta | None = None
    calendar: str | None = Field(default=None, description="A name from [plugins.sla.calendars].")
    pause_on_customer: bool | None = None
    warn_before: timedelta | None = None


class _Match(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: list[Priority] | None = None
    channel: list[str] | None = None
    department: list[str] | None = None
    category: list[str] | None = None
    kind: list[Kind] | None = None

    def holds(self, case: CaseInfo) -> bool:
        checks = (
            (self.priority, case.priority),
            (self.channel, case.channel),
            (self.department, case.department),
            (self.category, case.category),
            (self.kind, case.kind),
        )
        return all(allowed is None or value in allowed for allowed, value in checks)


class _Rule(_PolicyConfig):
    name: str
    match: _Match = Field(default_factory=_Match)


class SlaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    warn_before: timedelta | None = Field(
        default=timedelta(minutes=30), description="Default warning time before a deadline."
    )
    calendars: dict[str, BusinessCalendar] = Field(default_factory=dict)
    policies: dict[Priority, _PolicyConfig] = Field(default_factory=dict)
    rules: list[_Rule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _calendars_exist(self) -> SlaSettings:
        named = [(f"policies.{p.value}", c.calendar) for p, c in self.policies.items()]
        named += [(f"rules[{r.name!r}]", r.calendar) for r in self.rules]
        for where, cal in named:
            if cal is not None and cal not in self.calendars:
                raise ValueError(
                    f"{where}: unknown calendar {cal!r}; defined: {sorted(self.calendars) or 'none'}"
                )
        return self

    _table: DefaultSla | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _build(self, info: ValidationInfo) -> SlaSettings:
        """With the configuration as context: load the playbooks and the taxonomy that
        ``[plugins.classifier]`` selects, so that a bad one stops every command."""
        topics = configured_topics(info)
        if topics is not None:
            self._table = DefaultSla(self, *topics)
        return self

    @property
    def policy_table(self) -> DefaultSla:
        """The policies these settings describe (with the default taxonomy and no playbooks
        when validated without a configuration)."""
        if self._table is None:
            self._table = DefaultSla(self)
        return self._table


DEFAULT_POLICIES: dict[Priority, SlaPolicy] = {
    Priority.URGENT: SlaPolicy(
        name="urgent",
        first_response=timedelta(minutes=30),
        follow_up=timedelta(hours=2),
        resolution=timedelta(hours=8),
    ),
    Priority.HIGH: SlaPolicy(
        name="high",
        first_response=timedelta(hours=1),
        follow_up=timedelta(hours=4),
        resolution=timedelta(days=1),
    ),
    Priority.NORMAL: SlaPolicy(
        name="normal",
        first_response=timedelta(hours=4),
        follow_up=timedelta(hours=24),
        resolution=timedelta(days=3),
    ),
    Priority.LOW: SlaPolicy(
        name="low",
        first_response=timedelta(days=1),
        follow_up=timedelta(days=2),
        resolution=timedelta(days=7),
    ),
}


class DefaultSla:
    """The built-in ``choose_sla`` answer, registered ``trylast``."""

    def __init__(
        self,
        settings: SlaSettings,
        playbooks: PlaybookSet | None = None,
        taxonomy: Taxonomy | None = None,
    ) -> None:
        self.settings = settings
        self.playbooks = playbooks
        self.taxonomy = taxonomy if taxonomy is not None else load_taxonomy()
        self.policies = {
            p: self._apply(
                base.model_copy(update={"warn_before": settings.warn_before}),
                settings.policies.get(p),
                base.name,
            )
            for p, base in DEFAULT_POLICIES.items()
        }

    def _apply(self, base: SlaPolicy, overrides: _PolicyConfig | None, name: str) -> SlaPolicy:
        if overrides is None:
            return base
        update = overrides.model_dump(exclude_unset=True, exclude={"calendar", "name", "match"})
        if overrides.calendar is not None:
            update["calendar"] = self.settings.calendars[overrides.calendar]
        return base.model_copy(update={**update, "name": name})

    def choose_sla(self, case: CaseInfo) -> SlaPolicy:
        """The policy of ``case``: its priority's, a matching rule's, its playbook's extras."""
        policy = self.policies[case.priority]
        for rule in self.settings.rules:
            if rule.match.holds(case):
                policy = self._apply(policy, rule, f"{policy.name}/{rule.name}")
                break
        book = playbook_for(case.category, self.taxonomy, self.playbooks)
        if book is not None:
            extra = book.sla.model_dump(exclude_none=True)
            if extra:
                policy = policy.model_copy(
                    update={**extra, "name": f"{policy.name}+playbook:{book.category}"}
                )
        return policy


class SlaPlugin:
    """The built-in ``choose_sla`` answer, registered ``trylast``."""

    Settings = SlaSettings

    @hookimpl(trylast=True)
    def choose_sla(self, case: CaseInfo, ctx: PluginContext) -> SlaPolicy:
        settings: SlaSettings = ctx.plugin_config("sla")
        return settings.policy_table.choose_sla(case)


plugin = SlaPlugin()
"""The registered plugin (``DEFAULT_PLUGINS``); it reads each application's settings."""
