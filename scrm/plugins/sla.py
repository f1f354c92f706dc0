"""The built-in SLA policies: deadlines by priority, the same for every channel.

Phone, letter and e-mail customers get the same clocks as social ones.  Override per
priority in ``[plugins.sla.policies.<priority>]`` with ISO 8601 durations, e.g.::

    [plugins.sla.policies.high]
    first_response = "PT1H"
    resolution = "P1D"
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict

from scrm.core.config import Config
from scrm.core.hookspecs import hookimpl
from scrm.core.schemas import CaseInfo, Priority, SlaPolicy

__all__ = ["DEFAULT_POLICIES", "DefaultSla", "plugin"]


class _PolicyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_response: timedelta | None = None
    follow_up: timedelta | None = None
    resolution: timedelta | None = None


class SlaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policies: dict[Priority, _PolicyConfig] = {}


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
    def __init__(self, settings: SlaSettings) -> None:
        self.policies = dict(DEFAULT_POLICIES)
        for prio, pc in settings.policies.items():
            base = self.policies[prio]
            self.policies[prio] = base.model_copy(update=pc.model_dump(exclude_unset=True))

    @hookimpl(trylast=True)
    def choose_sla(self, case: CaseInfo) -> SlaPolicy:
        return self.policies[case.priority]


def plugin(config: Config) -> DefaultSla:
    return DefaultSla(SlaSettings.model_validate(config.plugin_settings("sla")))
