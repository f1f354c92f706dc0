"""Support: the defaults of the department that owns complaints and questions.

Complaints and questions become cases through the router and the complaint loop (core); this
module only adds the support department's own policies:

* ``categories``: the categories support takes (documentation for the router's rules and the
  scope of the policies below);
* ``policies``: per category, an SLA policy stricter or looser than the priority table
  (``choose_sla``); by default privacy (KVKK/GDPR) requests get a 1-hour first response;
* satisfaction follow-up: ``scrm support followups`` lists support cases whose rating was
  asked but never given after ``csat_follow_up_after``, and those rated unhappy.

Configuration (``[plugins.support]``)::

    categories = ["billing", "delivery", "refund"]
    csat_follow_up_after = "P2D"
    [plugins.support.policies.privacy]
    first_response = "PT1H"
    resolution = "P3D"
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from scrm.plugin import CaseInfo, PluginContext, SlaPolicy, hookimpl
from scrm.plugins.department import DepartmentPlugin

if TYPE_CHECKING:
    import click

__all__ = ["SupportPlugin", "SupportSettings", "plugin"]


class CategoryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_response: timedelta | None = None
    follow_up: timedelta | None = None
    resolution: timedelta | None = None


class SupportSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department: str = "support"
    categories: list[str] = Field(
        default_factory=lambda: [
            "billing", "delivery", "product_defect", "service_outage",
            "staff_behaviour", "refund", "privacy", "other",
        ]
    )  # fmt: skip
    policies: dict[str, CategoryPolicy] = Field(
        default_factory=lambda: {
            "privacy": CategoryPolicy(
                first_response=timedelta(hours=1), resolution=timedelta(days=3)
            )
        }
    )
    csat_follow_up_after: timedelta = timedelta(days=2)
    unhappy_at_or_below: int = 2


class SupportPlugin(DepartmentPlugin):
    name = "support"
    Settings = SupportSettings
    settings: SupportSettings

    def prepare(self) -> None:
        self.policies = {
            cat: SlaPolicy(name=f"support-{cat}", **p.model_dump())
            for cat, p in self.settings.policies.items()
        }

    @hookimpl
    def choose_sla(self, case: CaseInfo, ctx: PluginContext) -> SlaPolicy | None:
        plugin = self.configured(ctx)
        if case.department != plugin.settings.department:
            return None
        if case.category not in plugin.settings.categories:
            return None
        return plugin.policies.get(case.category)

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        import click

        from scrm.plugin.cli import CliContext, emit, table

        @click.group("support")
        def support() -> None:
            """The support department's follow-ups."""

        @support.command("followups")
        @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
        @click.pass_obj
        def followups(obj: CliContext, as_json: bool) -> None:
            """List support cases whose rating is overdue or unhappy: call these customers."""
            import sqlalchemy as sa

            from scrm.plugin.db import Case, Department, utcnow

            app = obj.app()
            settings = self.configured(app.context).settings
            due = utcnow() - settings.csat_follow_up_after
            with app.session() as s:
                q = (
                    sa.select(Case)
                    .join(Department, Department.id == Case.department_id)
                    .where(
                        Department.code == settings.department,
                        sa.or_(
                            sa.and_(
                                Case.csat_requested_at.is_not(None),
                                Case.csat_requested_at <= due,
                                Case.csat_score.is_(None),
                            ),
                            Case.csat_score <= settings.unhappy_at_or_below,
                        ),
                    )
                    .order_by(Case.csat_requested_at)
                )
                out = [
                    {
                        "case_id": c.id,
                        "status": c.status,
                        "category": c.category,
                        "csat_requested_at": c.csat_requested_at,
                        "csat_score": c.csat_score,
                        "reason": "unhappy rating" if c.csat_score is not None else "no rating",
                    }
                    for c in s.scalars(q)
                ]
            if as_json:
                emit(out)
                return
            rows = [(o["case_id"], o["status"], o["category"], obj.time(o["csat_requested_at"]),
                     o["csat_score"], o["reason"]) for o in out]  # fmt: skip
            cols = ["case", "status", "category", "rating asked", "score", "why"]
            obj.console.print(
                table("satisfaction follow-ups", cols, rows, caption=obj.times_caption)
            )

        cli.add_command(support)


plugin = SupportPlugin()
"""The registered plugin (``DEFAULT_PLUGINS``); it reads each application's settings."""
