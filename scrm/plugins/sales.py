"""Sales: leads from purchase intent, their own fast SLA, and a warning before pitching.

A stored inbound message of kind ``lead`` creates a :class:`~scrm.plugins.tables.sales.Lead`
(customer, interest, source interaction, status, owner) or, when the customer already has an
active lead for the same interest, counts one more mention on it.  A lead whose customer has
an open complaint is flagged, so that sales does not pitch into it.  Cases of kind ``lead``
get the sales SLA through ``choose_sla``.

Configuration (``[plugins.sales]``)::

    default_owner = "sales.bot"         # owner of new leads (optional)
    [plugins.sales.products]            # interest -> words that name it
    fiber = ["fiber", "fiber internet", "1000 mbps"]
    [plugins.sales.sla]
    first_response = "PT1H"
    resolution = "P2D"
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from scrm.plugin import (
    CaseInfo,
    Kind,
    SlaPolicy,
    StoredInteraction,
    hookimpl,
    normalize,
)
from scrm.plugins.department import DepartmentPlugin

if TYPE_CHECKING:
    import click
    from sqlalchemy.orm import Session

    from scrm.plugin import EventContext, PluginContext
    from scrm.plugins.tables.sales import Lead

__all__ = ["LEAD_STATUSES", "SalesPlugin", "SalesSettings", "open_complaint", "plugin"]

LEAD_STATUSES = ("new", "contacted", "qualified", "won", "lost")
ACTIVE = ("new", "contacted", "qualified")

DEFAULT_PRODUCTS = {
    "fiber": ["fiber", "fibre", "mbps", "altyapi", "internet paketi", "broadband"],
    "mobile": ["hat", "tarife", "mobile plan", "sim", "numara tasima", "esim", "roaming"],
    "tv": ["tv", "televizyon", "dizi paketi", "streaming"],
    "device": ["telefon", "tablet", "modem", "iphone", "samsung", "laptop", "phone"],
    "corporate": ["kurumsal", "business", "sirket", "corporate", "teklif", "quote"],
}


class LeadSla(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_response: timedelta = timedelta(hours=1)
    follow_up: timedelta = timedelta(hours=4)
    resolution: timedelta = timedelta(days=2)


class SalesSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    products: dict[str, list[str]] = Field(default_factory=lambda: dict(DEFAULT_PRODUCTS))
    default_owner: str | None = None
    sla: LeadSla = Field(default_factory=LeadSla)


def open_complaint(session: Session, customer_id: int) -> int | None:
    """Return the id of the customer's oldest open complaint case, if any."""
    import sqlalchemy as sa

    from scrm.plugin.db import OPEN_STATUSES, Case

    return session.scalar(
        sa.select(Case.id)
        .where(
            Case.customer_id == customer_id,
            Case.kind == Kind.COMPLAINT.value,
            Case.status.in_(OPEN_STATUSES),
        )
        .order_by(Case.opened_at)
    )


class SalesPlugin(DepartmentPlugin):
    name = "sales"
    Settings = SalesSettings
    settings: SalesSettings

    def prepare(self) -> None:
        self._products = {
            name: [f" {normalize(w)}" for w in words]
            for name, words in self.settings.products.items()
        }
        self.policy = SlaPolicy(name="sales-lead", **self.settings.sla.model_dump())

    def interest(self, text: str) -> str:
        """The first configured product the text names, else ``general``."""
        norm = f" {normalize(text)} "
        for name, words in self._products.items():
            if any(w in norm for w in words):
                return name
        return "general"

    @hookimpl
    def choose_sla(self, case: CaseInfo, ctx: PluginContext) -> SlaPolicy | None:
        plugin = self.configured(ctx)
        return plugin.policy if case.kind is Kind.LEAD else None

    @hookimpl
    def batch_committed(self, interactions: list[StoredInteraction], ctx: EventContext) -> None:
        """Create or count the leads of the batch's lead messages, in ingest order.

        Set-based: the messages, the customers' active leads and their open complaints are
        read in a constant number of queries per batch (IN-lists in chunks).
        """
        for plugin, group in self.by_brand(ctx, interactions):
            plugin._leads(group, ctx)

    def _leads(self, interactions: list[StoredInteraction], ctx: EventContext) -> None:
        """Create or count the leads of one brand's messages, with the brand's settings."""
        import sqlalchemy as sa

        from scrm.plugin.db import OPEN_STATUSES, Case, Interaction, chunks
        from scrm.plugins.tables.sales import Lead

        found = [
            i
            for i in interactions
            if i.classification is not None
            and i.classification.kind is Kind.LEAD
            and i.customer_id is not None
        ]
        if not found:
            return
        with self.session(ctx) as s:
            texts: dict[int, tuple[str, datetime]] = {}
            for part in chunks([i.id for i in found]):
                for iid, text, created_at in s.execute(
                    sa.select(Interaction.id, Interaction.text, Interaction.created_at).where(
                        Interaction.id.in_(part)
                    )
                ):
                    texts[iid] = (text, created_at)
            customers = sorted({i.customer_id for i in found if i.customer_id is not None})
            active: dict[tuple[int, str], Lead] = {}
            complaints: dict[int, int] = {}
            for part in chunks(customers):
                for lead in s.scalars(
                    sa.select(Lead)
                    .where(Lead.customer_id.in_(part), Lead.status.in_(ACTIVE))
                    .order_by(Lead.id)
                ):
                    active.setdefault((lead.customer_id, lead.interest), lead)
                for case_id, customer_id in s.execute(
                    sa.select(Case.id, Case.customer_id)
                    .where(
                        Case.customer_id.in_(part),
                        Case.kind == Kind.COMPLAINT.value,
                        Case.status.in_(OPEN_STATUSES),
                    )
                    .order_by(Case.opened_at)
                ):
                    complaints.setdefault(customer_id, case_id)  # the oldest one
            for i in found:
                if i.id not in texts or i.customer_id is None:
                    continue
                text, created_at = texts[i.id]
                self._lead(s, i, self.interest(text), created_at, active, complaints)

    def _lead(
        self,
        s: Session,
        i: StoredInteraction,
        interest: str,
        created_at: datetime,
        active: dict[tuple[int, str], Lead],
        complaints: dict[int, int],
    ) -> None:
        from scrm.plugins.tables.sales import Lead

        assert i.customer_id is not None
        at = created_at.isoformat()
        lead = active.get((i.customer_id, interest))
        if lead is not None:
            lead.mentions += 1
            lead.history = [*lead.history, {"at": at, "event": "mention", "interaction": i.id}]
            return
        note = {"at": at, "event": "created", "interaction": i.id}
        complaint = complaints.get(i.customer_id)
        if complaint is not None:
            note["warning"] = f"customer has open complaint case {complaint}"
        lead = Lead(
            customer_id=i.customer_id,
            interest=interest,
            interaction_id=i.id,
            case_id=i.case_id,
            status="new",
            owner=self.settings.default_owner,
            mentions=1,
            history=[note],
        )
        s.add(lead)
        active[(i.customer_id, interest)] = lead

    @hookimpl
    def register_migrations(self, register: Callable[..., None]) -> None:
        register("scrm.plugins:migrations/sales", models="scrm.plugins.tables.sales")

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        from scrm.plugin.cli import add_lazy_command

        def leads() -> click.Command:
            from scrm.plugins.commands.sales import leads_group

            return leads_group

        add_lazy_command(cli, "leads", "Sales leads from purchase intent.", leads)


def _lead_out(s: Session, lead: Lead) -> dict[str, Any]:
    from scrm.plugin.db import Customer, Interaction

    customer = s.get(Customer, lead.customer_id)
    source = s.get(Interaction, lead.interaction_id)
    complaint = open_complaint(s, lead.customer_id)
    return {
        "id": lead.id,
        "customer_id": lead.customer_id,
        "customer": customer.display_name if customer else None,
        "interest": lead.interest,
        "status": lead.status,
        "owner": lead.owner,
        "mentions": lead.mentions,
        "case_id": lead.case_id,
        "source_interaction": lead.interaction_id,
        "source_text": source.text if source else None,
        "open_complaint_case": complaint,
        "flag": f"open complaint (case {complaint}): do not pitch" if complaint else None,
        "created_at": lead.created_at,
        "updated_at": lead.updated_at,
        "history": lead.history,
    }


plugin = SalesPlugin()
"""The registered plugin (``DEFAULT_PLUGINS``); it reads each application's settings."""
